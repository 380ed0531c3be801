"""Install's domain events as `portico.events.v1` messages: the protobuf edge."""

from __future__ import annotations

from typing import TypedDict

from google.protobuf.message import Message

from portico.events.v1 import events_pb2 as ev
from portico_common.timestamps import to_timestamp
from portico_security.install.domain.events import (
    InstallApprovalRecorded,
    InstallApprovalRequired,
    InstallApproved,
    InstallEscalated,
    InstallEvent,
    InstallExpired,
    InstallRejected,
    InstallRequested,
    InstallUninstalled,
)


class _Ids(TypedDict):
    """The fields every install message shares."""

    tenant_id: str
    request_id: str
    plugin: str
    version: str


def to_message(event: InstallEvent) -> Message:  # noqa: PLR0911 - one return per event type
    """The proto payload published for a domain event."""
    ids = _Ids(
        tenant_id=event.tenant_id,
        request_id=event.request_id,
        plugin=event.plugin,
        version=event.version,
    )
    match event:
        case InstallRequested():
            return ev.InstallRequested(
                **ids,
                requested_by=event.requested_by,
                trust_score=event.trust_score,
                verification_id=event.verification_id,
                evidence_digest=event.evidence_digest,
            )
        case InstallApprovalRequired():
            return ev.InstallApprovalRequired(
                **ids,
                required=event.required,
                roles=list(event.roles),
                deadline=to_timestamp(event.deadline),
                reasons=list(event.reasons),
                trust_score=event.trust_score,
            )
        case InstallApprovalRecorded():
            return ev.InstallApprovalRecorded(
                **ids,
                approver=event.approver,
                role=event.role,
                approve=event.approve,
                has_comment=event.has_comment,
                approvals=event.approvals,
                required=event.required,
            )
        case InstallApproved():
            return ev.InstallApproved(
                **ids,
                approved_by=event.approved_by,
                approvers=list(event.approvers),
                reason=event.reason,
                trust_score=event.trust_score,
                verification_id=event.verification_id,
                rollout_phases=list(event.rollout_phases),
                rollout_bake_seconds=event.rollout_bake_seconds,
            )
        case InstallRejected():
            return ev.InstallRejected(
                **ids, reasons=list(event.reasons), rejected_by=event.rejected_by
            )
        case InstallExpired():
            return ev.InstallExpired(**ids)
        case InstallUninstalled():
            return ev.InstallUninstalled(
                **ids, uninstalled_by=event.uninstalled_by, reason=event.reason
            )
        case InstallEscalated():
            return ev.InstallEscalated(
                **ids, roles=list(event.roles), deadline=to_timestamp(event.deadline)
            )
    raise TypeError(f"no message for {type(event).__name__}")


def subject_of(event: InstallEvent) -> str:
    """The CloudEvent subject: the package version the request is about."""
    return f"{event.plugin}@{event.version}"
