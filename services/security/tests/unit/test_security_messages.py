"""Domain events on the wire: each maps to the `portico.events.v1` payload the service has
always published, byte for byte, under the subject `plugin@version`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.protobuf.message import Message

from portico.events.v1 import events_pb2 as ev
from portico_security.install.adapters import messages as install_messages
from portico_security.install.domain import events as install
from portico_security.verification.adapters import messages as verification_messages
from portico_security.verification.domain import events as verification

DEADLINE = datetime(2026, 3, 2, 12, 0, 0, 123456, tzinfo=UTC)
IDS = {"tenant_id": "acme", "request_id": "r-1", "plugin": "@acme/p", "version": "1.0.0"}


def escalated() -> ev.InstallEscalated:
    message = ev.InstallEscalated(**IDS, roles=["platform-admin"])
    message.deadline.FromDatetime(DEADLINE)
    return message


def approval_required() -> ev.InstallApprovalRequired:
    message = ev.InstallApprovalRequired(
        **IDS, required=2, roles=["sec", "lead"], reasons=["low trust"], trust_score=40
    )
    message.deadline.FromDatetime(DEADLINE)
    return message


VERIFICATION_CASES: list[tuple[verification.VerificationEvent, Message]] = [
    (
        verification.ArtifactVerified(
            tenant_id="acme",
            plugin="@acme/p",
            version="1.0.0",
            verification_id="v-1",
            integrity="sha512-x",
            publisher="acme",
            key_id="k-1",
        ),
        ev.ArtifactVerified(
            tenant_id="acme",
            plugin="@acme/p",
            version="1.0.0",
            integrity="sha512-x",
            publisher="acme",
            key_id="k-1",
            verification_id="v-1",
        ),
    ),
    (
        verification.ArtifactRejected(
            tenant_id="acme",
            plugin="@acme/p",
            version="1.0.0",
            verification_id="v-2",
            reasons=("size: too big", "signature: bad"),
        ),
        ev.ArtifactRejected(
            tenant_id="acme",
            plugin="@acme/p",
            version="1.0.0",
            reasons=["size: too big", "signature: bad"],
            verification_id="v-2",
        ),
    ),
]

INSTALL_CASES: list[tuple[install.InstallEvent, Message]] = [
    (
        install.InstallRequested(
            **IDS,
            requested_by="bob",
            trust_score=60,
            verification_id="v-1",
            evidence_digest="sha256:0",
        ),
        ev.InstallRequested(
            **IDS,
            requested_by="bob",
            trust_score=60,
            verification_id="v-1",
            evidence_digest="sha256:0",
        ),
    ),
    (
        install.InstallApprovalRequired(
            **IDS,
            required=2,
            roles=("sec", "lead"),
            deadline=DEADLINE,
            reasons=("low trust",),
            trust_score=40,
        ),
        approval_required(),
    ),
    (
        install.InstallApprovalRecorded(
            **IDS,
            approver="alice",
            role="sec",
            approve=True,
            has_comment=True,
            approvals=1,
            required=2,
        ),
        ev.InstallApprovalRecorded(
            **IDS,
            approver="alice",
            role="sec",
            approve=True,
            has_comment=True,
            approvals=1,
            required=2,
        ),
    ),
    (
        install.InstallApproved(
            **IDS,
            approved_by="carol",
            approvers=("alice", "carol"),
            reason="fine",
            trust_score=40,
            verification_id="v-1",
            rollout_phases=(10, 50, 100),
            rollout_bake_seconds=60,
        ),
        ev.InstallApproved(
            **IDS,
            approved_by="carol",
            approvers=["alice", "carol"],
            reason="fine",
            trust_score=40,
            verification_id="v-1",
            rollout_phases=[10, 50, 100],
            rollout_bake_seconds=60,
        ),
    ),
    (
        install.InstallRejected(**IDS, reasons=("no",), rejected_by="alice"),
        ev.InstallRejected(**IDS, reasons=["no"], rejected_by="alice"),
    ),
    (install.InstallExpired(**IDS), ev.InstallExpired(**IDS)),
    (
        install.InstallUninstalled(**IDS, uninstalled_by="bob", reason="unused"),
        ev.InstallUninstalled(**IDS, uninstalled_by="bob", reason="unused"),
    ),
    (install.InstallEscalated(**IDS, roles=("platform-admin",), deadline=DEADLINE), escalated()),
]


@pytest.mark.parametrize(("event", "expected"), VERIFICATION_CASES, ids=lambda v: type(v).__name__)
def test_verification_events_keep_their_wire_bytes(
    event: verification.VerificationEvent, expected: Message
) -> None:
    """Each verification event serialises exactly as the message built field by field."""
    message = verification_messages.to_message(event)
    assert type(message) is type(expected)
    assert message.SerializeToString(deterministic=True) == expected.SerializeToString(
        deterministic=True
    )
    assert verification_messages.subject_of(event) == "@acme/p@1.0.0"


@pytest.mark.parametrize(("event", "expected"), INSTALL_CASES, ids=lambda v: type(v).__name__)
def test_install_events_keep_their_wire_bytes(
    event: install.InstallEvent, expected: Message
) -> None:
    """Each install event serialises exactly as the message built field by field."""
    message = install_messages.to_message(event)
    assert type(message) is type(expected)
    assert message.SerializeToString(deterministic=True) == expected.SerializeToString(
        deterministic=True
    )
    assert install_messages.subject_of(event) == "@acme/p@1.0.0"


def test_every_install_event_type_has_a_case() -> None:
    """The table above covers every concrete install event, so a new one cannot go unmapped."""
    concrete = {
        cls
        for cls in vars(install).values()
        if isinstance(cls, type)
        and issubclass(cls, install.InstallEvent)
        and cls is not install.InstallEvent
    }
    assert concrete == {type(event) for event, _ in INSTALL_CASES}
