"""CloudEvents binary mode: what goes on the wire and what comes back from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from portico.auth.v1 import auth_pb2
from portico.events.v1 import events_pb2 as ev
from portico_common.errors import EventError
from portico_common.events.envelope import CONTENT_TYPE, TENANT_HEADER, Envelope

WHEN = datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)


def _violation() -> ev.SloViolated:
    return ev.SloViolated(
        tenant_id="acme", slo_id="slo-1", plugin="@acme/cost", version="2.3.0", threshold=14.4
    )


def _envelope(**overrides: object) -> Envelope:
    fields: dict[str, object] = {
        "source": "portico/slo",
        "tenant_id": "acme",
        "subject": "@acme/cost@2.3.0",
        "time": WHEN,
    }
    fields.update(overrides)
    return Envelope.of(_violation(), **fields)  # type: ignore[arg-type]


def test_headers_carry_every_cloudevents_attribute() -> None:
    """The binary-mode headers hold id, source, type, specversion, time, subject and tenant."""
    envelope = _envelope()
    headers = envelope.headers()
    assert headers == {
        "ce-id": envelope.id,
        "ce-source": "portico/slo",
        "ce-type": "slo.violated",
        "ce-specversion": "1.0",
        "ce-time": "2026-03-04T05:06:07.890000Z",
        "ce-subject": "@acme/cost@2.3.0",
        "content-type": CONTENT_TYPE,
        TENANT_HEADER: "acme",
        "Nats-Msg-Id": envelope.id,
    }


def test_nats_msg_id_is_the_cloudevent_id() -> None:
    """Nats-Msg-Id equals ce-id, so JetStream deduplicates a re-published event."""
    headers = _envelope().headers()
    assert headers["Nats-Msg-Id"] == headers["ce-id"]


def test_each_envelope_gets_its_own_id() -> None:
    """Two envelopes of the same payload have distinct ids (they are two events)."""
    assert _envelope().id != _envelope().id


def test_ce_time_is_rendered_in_utc() -> None:
    """A time in another zone is written as the same instant in UTC with a Z suffix."""
    plus_two = WHEN.astimezone(timezone(timedelta(hours=2)))
    assert _envelope(time=plus_two).headers()["ce-time"] == "2026-03-04T05:06:07.890000Z"


def test_empty_subject_is_left_out() -> None:
    """ce-subject is optional in CloudEvents and is omitted when there is none."""
    assert "ce-subject" not in _envelope(subject="").headers()


def test_only_w3c_trace_headers_are_carried() -> None:
    """traceparent and tracestate travel with the event; other trace keys do not."""
    envelope = Envelope(
        type="slo.violated",
        source="portico/slo",
        tenant_id="acme",
        payload=_violation(),
        trace={"traceparent": "00-abc-def-01", "tracestate": "k=v", "baggage": "x=y"},
    )
    headers = envelope.headers()
    assert headers["traceparent"] == "00-abc-def-01"
    assert headers["tracestate"] == "k=v"
    assert "baggage" not in headers


def test_nats_subject_is_derived_from_the_type() -> None:
    """An slo.violated event is published on portico.slo.violated."""
    assert _envelope().nats_subject == "portico.slo.violated"


def test_decode_round_trips_an_encoded_envelope() -> None:
    """Decoding the headers and body of an envelope gives the same envelope back."""
    envelope = Envelope(
        type="slo.violated",
        source="portico/slo",
        tenant_id="acme",
        payload=_violation(),
        subject="@acme/cost@2.3.0",
        time=WHEN,
        trace={"traceparent": "00-abc-def-01"},
    )
    assert Envelope.decode(envelope.headers(), envelope.body()) == envelope


def test_decoded_time_is_timezone_aware() -> None:
    """ce-time decodes to an aware UTC datetime that compares with clock times."""
    decoded = Envelope.decode(_envelope().headers(), _envelope().body())
    assert decoded.time == WHEN
    assert decoded.time.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "header", ["ce-id", "ce-source", "ce-type", "ce-specversion", "ce-time", TENANT_HEADER]
)
def test_missing_required_header_is_named(header: str) -> None:
    """A message lacking one required header is rejected with that header's name."""
    headers = _envelope().headers()
    del headers[header]
    with pytest.raises(EventError) as caught:
        Envelope.decode(headers, _envelope().body())
    assert str(caught.value) == f"not a Portico CloudEvent: missing headers {header}"


def test_empty_header_counts_as_missing() -> None:
    """An empty tenant header is as bad as none: no event is anonymous."""
    headers = _envelope().headers() | {TENANT_HEADER: ""}
    with pytest.raises(EventError, match=f"missing headers {TENANT_HEADER}$"):
        Envelope.decode(headers, _envelope().body())


def test_message_without_headers_lists_every_missing_one() -> None:
    """A plain NATS message (no headers at all) names all required headers."""
    with pytest.raises(EventError) as caught:
        Envelope.decode(None, b"")
    assert str(caught.value) == (
        "not a Portico CloudEvent: missing headers "
        f"ce-id, ce-source, ce-type, ce-specversion, ce-time, {TENANT_HEADER}"
    )


def test_other_specversion_is_rejected() -> None:
    """Only CloudEvents 1.0 is understood."""
    headers = _envelope().headers() | {"ce-specversion": "0.3"}
    with pytest.raises(EventError, match=r"^unsupported CloudEvents specversion '0\.3'$"):
        Envelope.decode(headers, _envelope().body())


def test_unknown_type_is_rejected() -> None:
    """An event type outside the catalog is an error, not a silently empty payload."""
    headers = _envelope().headers() | {"ce-type": "plugin.exploded"}
    with pytest.raises(EventError, match=r"^unknown event type 'plugin\.exploded'$"):
        Envelope.decode(headers, _envelope().body())


def test_corrupt_body_is_rejected() -> None:
    """A body that is not the type's protobuf message names the type and message."""
    truncated = _envelope().body()[:-3]
    with pytest.raises(EventError, match=r"^slo\.violated: payload is not a valid SloViolated$"):
        Envelope.decode(_envelope().headers(), truncated)


def test_unparseable_time_is_rejected() -> None:
    """A ce-time that is not RFC 3339 is named in the error."""
    headers = _envelope().headers() | {"ce-time": "yesterday"}
    with pytest.raises(EventError, match=r"^invalid ce-time 'yesterday'$"):
        Envelope.decode(headers, _envelope().body())


def test_time_without_offset_is_rejected() -> None:
    """RFC 3339 requires an offset; a naive ce-time would break comparisons with clock times."""
    headers = _envelope().headers() | {"ce-time": "2026-03-04T05:06:07"}
    with pytest.raises(EventError, match=r"^invalid ce-time '2026-03-04T05:06:07'"):
        Envelope.decode(headers, _envelope().body())


def test_unregistered_payload_cannot_be_wrapped() -> None:
    """Wrapping a message that is not a catalogued event fails, naming the message."""
    with pytest.raises(KeyError, match=r"portico\.auth\.v1\.GetJwksRequest"):
        Envelope.of(auth_pb2.GetJwksRequest(), source="portico/auth", tenant_id="acme")
