"""Verification's domain events as `portico.events.v1` messages: the protobuf edge."""

from __future__ import annotations

from google.protobuf.message import Message

from portico.events.v1 import events_pb2 as ev
from portico_security.verification.domain.events import (
    ArtifactRejected,
    ArtifactVerified,
    VerificationEvent,
)


def to_message(event: VerificationEvent) -> Message:
    """The proto payload published for a domain event."""
    match event:
        case ArtifactVerified():
            return ev.ArtifactVerified(
                tenant_id=event.tenant_id,
                plugin=event.plugin,
                version=event.version,
                integrity=event.integrity,
                publisher=event.publisher,
                key_id=event.key_id,
                verification_id=event.verification_id,
            )
        case ArtifactRejected():
            return ev.ArtifactRejected(
                tenant_id=event.tenant_id,
                plugin=event.plugin,
                version=event.version,
                reasons=list(event.reasons),
                verification_id=event.verification_id,
            )
    raise TypeError(f"no message for {type(event).__name__}")


def subject_of(event: VerificationEvent) -> str:
    """The CloudEvent subject: the package version the decision is about."""
    return f"{event.plugin}@{event.version}"
