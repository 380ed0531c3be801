"""CloudEvents 1.0 binary mode over NATS: attributes as headers, payload as body."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from google.protobuf.message import DecodeError, Message

from portico_common.errors import EventError
from portico_common.events.catalog import EVENT_TYPES, subject_for, type_of
from portico_common.tenants import is_valid_tenant_id

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/protobuf"
TENANT_HEADER = "portico-tenant"
TRACE_HEADERS = ("traceparent", "tracestate")
_REQUIRED = ("ce-id", "ce-source", "ce-type", "ce-specversion", "ce-time", TENANT_HEADER)


@dataclass(frozen=True)
class Envelope:
    """One event: the CloudEvents attributes and the decoded payload."""

    type: str
    source: str
    tenant_id: str
    payload: Message
    subject: str = ""
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    trace: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        payload: Message,
        *,
        source: str,
        tenant_id: str,
        subject: str = "",
        time: datetime | None = None,
    ) -> Envelope:
        """An envelope whose type is looked up from the payload's message type."""
        return cls(
            type=type_of(payload),
            source=source,
            tenant_id=tenant_id,
            payload=payload,
            subject=subject,
            time=time or datetime.now(UTC),
        )

    @property
    def nats_subject(self) -> str:
        return subject_for(self.type)

    def headers(self) -> dict[str, str]:
        """NATS headers; Nats-Msg-Id = ce-id so JetStream drops duplicates."""
        headers = {
            "ce-id": self.id,
            "ce-source": self.source,
            "ce-type": self.type,
            "ce-specversion": SPEC_VERSION,
            "ce-time": self.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "content-type": CONTENT_TYPE,
            TENANT_HEADER: self.tenant_id,
            "Nats-Msg-Id": self.id,
        }
        if self.subject:
            headers["ce-subject"] = self.subject
        headers.update({k: v for k, v in self.trace.items() if k in TRACE_HEADERS})
        return headers

    def body(self) -> bytes:
        return self.payload.SerializeToString(deterministic=True)

    @classmethod
    def decode(cls, headers: dict[str, str] | None, body: bytes) -> Envelope:
        """Parses a received message; raises EventError naming what is wrong."""
        headers = headers or {}
        missing = [h for h in _REQUIRED if not headers.get(h)]
        if missing:
            raise EventError(f"not a Portico CloudEvent: missing headers {', '.join(missing)}")
        if headers["ce-specversion"] != SPEC_VERSION:
            raise EventError(f"unsupported CloudEvents specversion {headers['ce-specversion']!r}")
        if not is_valid_tenant_id(headers[TENANT_HEADER]):
            # Consumers open a transaction for this tenant; "*" would mean all of them.
            raise EventError(f"invalid tenant header {headers[TENANT_HEADER][:80]!r}")
        event_type = headers["ce-type"]
        message_class = EVENT_TYPES.get(event_type)
        if message_class is None:
            raise EventError(f"unknown event type {event_type!r}")
        payload = message_class()
        try:
            payload.ParseFromString(body)
        except DecodeError as exc:
            raise EventError(
                f"{event_type}: payload is not a valid {payload.DESCRIPTOR.name}"
            ) from exc
        try:
            time = datetime.fromisoformat(headers["ce-time"])
        except ValueError as exc:
            raise EventError(f"invalid ce-time {headers['ce-time']!r}") from exc
        if time.tzinfo is None:
            # RFC 3339 requires an offset; a naive time cannot be compared with Clock times.
            raise EventError(f"invalid ce-time {headers['ce-time']!r}: no UTC offset")
        return cls(
            type=event_type,
            source=headers["ce-source"],
            tenant_id=headers[TENANT_HEADER],
            payload=payload,
            subject=headers.get("ce-subject", ""),
            id=headers["ce-id"],
            time=time,
            trace={k: headers[k] for k in TRACE_HEADERS if k in headers},
        )
