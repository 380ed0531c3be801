"""The JetStream side of the bus: streams created idempotently, duplicates dropped."""

from __future__ import annotations

from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from portico.events.v1 import events_pb2 as ev
from portico_common.events.bus import StreamSettings, connect, ensure_streams, publish
from portico_common.events.catalog import DLQ_STREAM, STREAM
from portico_common.events.envelope import Envelope
from portico_common.events.provision import provision
from portico_embedded.processes import free_port

pytestmark = pytest.mark.integration


def _envelope() -> Envelope:
    return Envelope.of(
        ev.TenantCreated(tenant_id="acme", display_name="Acme"),
        source="portico/tenancy",
        tenant_id="acme",
    )


async def test_streams_cover_events_and_dead_letters(infra: Any) -> None:
    """The event stream takes portico.> and the dead-letter stream portico-dlq.>."""
    events = await infra.js.stream_info(STREAM)
    dead = await infra.js.stream_info(DLQ_STREAM)
    assert events.config.subjects == ["portico.>"]
    assert dead.config.subjects == ["portico-dlq.>"]
    assert events.config.duplicate_window == 120.0


async def test_ensure_streams_is_safe_on_every_start(infra: Any) -> None:
    """Running ensure_streams again keeps the stream and the events already in it."""
    await publish(infra.js, _envelope())
    await ensure_streams(infra.js)
    assert (await infra.js.stream_info(STREAM)).state.messages == 1


async def test_ensure_streams_reconciles_a_changed_configuration(infra: Any) -> None:
    """A stream created with other settings is brought in line, keeping its events."""
    await publish(infra.js, _envelope())
    await ensure_streams(infra.js, StreamSettings(max_age_seconds=3600.0))
    info = await infra.js.stream_info(STREAM)
    assert info.config.max_age == 3600.0
    assert info.state.messages == 1


async def test_republished_event_is_stored_once(infra: Any) -> None:
    """Publishing one envelope twice is acked twice but stored once (Nats-Msg-Id dedup)."""
    envelope = _envelope()
    first = await publish(infra.js, envelope)
    second = await publish(infra.js, envelope)
    assert not first.duplicate
    assert second.duplicate
    assert second.seq == first.seq
    [stored] = await infra.stream()
    assert Envelope.decode(stored.headers, stored.data) == envelope


async def test_a_comma_separated_url_connects_to_the_first_server_that_answers(
    nats_url: str,
) -> None:
    """A cluster's members may be listed; one that is down is passed over."""
    nc = await connect(f"nats://127.0.0.1:{free_port()}, {nats_url}", "list-test")
    try:
        assert nc.is_connected
        assert nc.connected_url is not None
        assert nc.connected_url.geturl() == nats_url
    finally:
        await nc.close()


async def test_the_provisioner_gives_every_durable_its_ack_wait(nc: NatsClient) -> None:
    """`event_ack_wait_seconds` reaches each consumer it creates (a redelivery's delay)."""
    js = nc.jetstream()
    durables = await provision(js, ack_wait_seconds=2.5)
    assert durables
    for durable in durables:
        assert (await js.consumer_info(STREAM, durable)).config.ack_wait == 2.5
