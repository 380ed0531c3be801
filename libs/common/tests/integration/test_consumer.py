"""Durable consumers with an inbox: once-only effects, retries, and a visible dead letter."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import pytest
from nats.js.api import ConsumerInfo

from portico.events.v1 import events_pb2 as ev
from portico_common.db import ALL_TENANTS, Connection, Database, service_role
from portico_common.events.bus import connect, ensure_streams
from portico_common.events.catalog import DLQ_STREAM, STREAM
from portico_common.events.consumer import ConsumerSettings, EventConsumer
from portico_common.events.envelope import Envelope
from portico_embedded.nats import NatsServer
from portico_embedded.testing.fixtures import unique

pytestmark = pytest.mark.integration

FAST = ConsumerSettings(
    max_deliver=3, fetch_timeout_seconds=0.2, nak_backoff_seconds=(0.05,), ack_wait_seconds=5
)


def _envelope(tenant: str = "acme", slo: str = "slo-1") -> Envelope:
    payload = ev.SloViolated(tenant_id=tenant, slo_id=slo, plugin="@acme/cost", version="2.3.0")
    return Envelope.of(payload, source="portico/slo", tenant_id=tenant)


async def _publish(infra: Any, envelope: Envelope, msg_id: str | None = None) -> None:
    """Publishes like the relay does; another Nats-Msg-Id defeats server-side dedup."""
    headers = envelope.headers()
    if msg_id is not None:
        headers["Nats-Msg-Id"] = msg_id
    await infra.js.publish(envelope.nats_subject, envelope.body(), headers=headers)


async def _record_effect(envelope: Envelope, conn: Connection) -> None:
    """A handler's effect: one row in the tenant's effects table."""
    await conn.execute(
        "INSERT INTO effects (tenant_id, event_id, note) VALUES ($1, $2, $3)",
        envelope.tenant_id,
        envelope.id,
        envelope.payload.slo_id,  # type: ignore[attr-defined]
    )


async def _effects(db: Database) -> list[tuple[str, str, str]]:
    """Every tenant's effects, read as a platform job reads (ALL_TENANTS)."""
    async with db.transaction(ALL_TENANTS) as conn:
        rows = await conn.fetch("SELECT tenant_id, event_id, note FROM effects ORDER BY note")
    return [(r["tenant_id"], r["event_id"], r["note"]) for r in rows]


async def _inbox(pool: asyncpg.Pool) -> list[tuple[str, str]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT consumer, event_id FROM inbox ORDER BY consumer")
    return [(r["consumer"], r["event_id"]) for r in rows]


async def _start(infra: Any, handler: Any, settings: ConsumerSettings = FAST) -> EventConsumer:
    """Sets the consumer up (as serve() does) and runs it in the background."""
    consumer = EventConsumer(
        infra.js, infra.db, unique("test"), {"slo.violated": handler}, settings
    )
    await consumer.setup()
    infra.background.start(consumer.run)
    return consumer


async def _settled(infra: Any, durable: str, delivered: int) -> ConsumerInfo:
    """Waits until `delivered` stream messages were delivered and none awaits an ack."""

    async def info() -> ConsumerInfo:
        info: ConsumerInfo = await infra.js.consumer_info(STREAM, durable)
        return info

    settled: ConsumerInfo = await infra.until(
        info,
        lambda i: i.delivered.stream_seq >= delivered and i.num_ack_pending == 0,
        what=f"{durable} delivered {delivered} and acked everything",
    )
    return settled


async def test_event_is_handled_and_acked(infra: Any) -> None:
    """A delivered event runs its handler, is recorded in the inbox, and is acked."""
    envelope = _envelope()
    consumer = await _start(infra, _record_effect)
    await _publish(infra, envelope)
    info = await _settled(infra, consumer.durable, 1)
    assert info.ack_floor is not None
    assert info.ack_floor.stream_seq == 1
    assert await _effects(infra.db) == [("acme", envelope.id, "slo-1")]
    assert await _inbox(infra.pool) == [(consumer.durable, envelope.id)]


async def test_handler_receives_the_decoded_event(infra: Any) -> None:
    """The handler gets the event's id, type, tenant, time and typed payload."""
    seen: list[Envelope] = []

    async def handler(envelope: Envelope, conn: Connection) -> None:
        seen.append(envelope)

    envelope = _envelope()
    consumer = await _start(infra, handler)
    await _publish(infra, envelope)
    await _settled(infra, consumer.durable, 1)
    assert seen == [envelope]


async def test_handler_runs_in_the_events_tenant(infra: Any) -> None:
    """The handler runs as the service's own role, scoped to the event's tenant, under RLS."""
    seen: list[tuple[str, str, int]] = []

    async def handler(envelope: Envelope, conn: Connection) -> None:
        seen.append(
            (
                await conn.fetchval("SELECT current_user"),
                await conn.fetchval("SELECT current_setting('app.tenant_id', true)"),
                await conn.fetchval("SELECT count(*) FROM notes"),
            )
        )

    async with infra.db.transaction("*") as conn:
        await conn.execute("INSERT INTO notes (tenant_id, body) VALUES ('beta', 'not yours')")
    consumer = await _start(infra, handler)
    await _publish(infra, _envelope(tenant="acme"))
    await _settled(infra, consumer.durable, 1)
    assert seen == [(service_role("kerneltest"), "acme", 0)]


async def test_redelivered_event_changes_nothing(infra: Any) -> None:
    """The same CloudEvent delivered twice has its effect once; both deliveries are acked."""
    calls: list[str] = []

    async def handler(envelope: Envelope, conn: Connection) -> None:
        calls.append(envelope.id)
        await _record_effect(envelope, conn)

    envelope = _envelope()
    consumer = await _start(infra, handler)
    await _publish(infra, envelope)
    # Same ce-id, different Nats-Msg-Id: the stream keeps both, as after a dedup window.
    await _publish(infra, envelope, msg_id=f"{envelope.id}-again")
    assert len(await infra.stream()) == 2
    info = await _settled(infra, consumer.durable, 2)
    assert info.ack_floor is not None
    assert info.ack_floor.stream_seq == 2
    assert calls == [envelope.id]
    assert await _effects(infra.db) == [("acme", envelope.id, "slo-1")]


async def test_each_consumer_has_its_own_inbox(infra: Any) -> None:
    """Two durable consumers of one event each apply their effect once."""
    envelope = _envelope()
    first = await _start(infra, _record_effect)
    second = await _start(infra, _record_effect)
    await _publish(infra, envelope)
    await _settled(infra, first.durable, 1)
    await _settled(infra, second.durable, 1)
    assert len(await _effects(infra.db)) == 2
    assert sorted(await _inbox(infra.pool)) == sorted(
        [(first.durable, envelope.id), (second.durable, envelope.id)]
    )


async def test_replicas_of_one_consumer_share_the_work(infra: Any) -> None:
    """Two processes running the same durable consumer handle each event exactly once."""
    durable = unique("shared")
    for _ in range(2):
        replica = EventConsumer(infra.js, infra.db, durable, {"slo.violated": _record_effect}, FAST)
        await replica.setup()
        infra.background.start(replica.run)
    envelopes = [_envelope(slo=f"slo-{n:02}") for n in range(20)]
    for envelope in envelopes:
        await _publish(infra, envelope)
    await _settled(infra, durable, 20)
    assert [note for _, _, note in await _effects(infra.db)] == [f"slo-{n:02}" for n in range(20)]


async def test_failing_handler_is_retried_after_a_backoff(infra: Any) -> None:
    """A handler that fails once is naked with a delay, retried, and succeeds."""
    attempts: list[float] = []

    async def flaky(envelope: Envelope, conn: Connection) -> None:
        attempts.append(time.monotonic())
        await _record_effect(envelope, conn)
        if len(attempts) == 1:
            raise ConnectionError("downstream hiccup")

    settings = ConsumerSettings(
        max_deliver=3, fetch_timeout_seconds=0.2, nak_backoff_seconds=(0.5,)
    )
    envelope = _envelope()
    consumer = await _start(infra, flaky, settings)
    await _publish(infra, envelope)
    info = await _settled(infra, consumer.durable, 1)
    await infra.until(lambda: _effects(infra.db), what="effect of the retried handler")
    assert len(attempts) == 2
    assert attempts[1] - attempts[0] >= 0.4  # the nak's delay, not an immediate redelivery
    # The first attempt's effect was rolled back with its transaction.
    assert await _effects(infra.db) == [("acme", envelope.id, "slo-1")]
    assert info.num_redelivered == 0  # nothing still waiting for redelivery
    assert await infra.stream(DLQ_STREAM) == []


async def test_poison_message_reaches_the_dead_letter_subject(infra: Any) -> None:
    """A handler that always fails parks the event in the DLQ after max_deliver attempts."""
    calls = 0

    async def poison(envelope: Envelope, conn: Connection) -> None:
        nonlocal calls
        calls += 1
        await _record_effect(envelope, conn)
        raise ValueError("plugin version 'x' is not semver")

    envelope = _envelope()
    consumer = await _start(infra, poison)
    await _publish(infra, envelope)
    [dead] = await infra.stream_count(DLQ_STREAM, at_least=1)
    await _settled(infra, consumer.durable, 1)

    assert calls == FAST.max_deliver
    assert dead.subject == f"portico-dlq.{consumer.durable}.slo.violated"
    assert dead.headers["portico-dlq-reason"] == "ValueError: plugin version 'x' is not semver"
    assert dead.headers["portico-dlq-consumer"] == consumer.durable
    assert dead.headers["portico-dlq-deliveries"] == str(FAST.max_deliver)
    assert dead.headers["portico-dlq-subject"] == "portico.slo.violated"
    # The original event travels intact, so it can be replayed once fixed.
    assert Envelope.decode(dead.headers, dead.data) == envelope
    # No partial state from any of the failed attempts.
    assert await _effects(infra.db) == []
    assert await _inbox(infra.pool) == []


async def test_database_outage_is_retried_past_max_deliver_and_never_parked(
    infra: Any,
) -> None:
    """A handler failing because PostgreSQL is unreachable keeps being retried beyond
    max_deliver (the outage is no fault of the event) and applies once it is back."""
    calls = 0

    async def during_outage(envelope: Envelope, conn: Connection) -> None:
        nonlocal calls
        calls += 1
        if calls <= FAST.max_deliver + 2:
            raise asyncpg.ConnectionDoesNotExistError("connection was closed")
        await _record_effect(envelope, conn)

    envelope = _envelope()
    consumer = await _start(infra, during_outage)
    await _publish(infra, envelope)
    await infra.until(lambda: _effects(infra.db), what="effect after the outage")
    await _settled(infra, consumer.durable, 1)
    assert calls == FAST.max_deliver + 3
    assert await _effects(infra.db) == [("acme", envelope.id, "slo-1")]
    assert await infra.stream(DLQ_STREAM) == []


async def test_poison_message_does_not_block_the_next_one(infra: Any) -> None:
    """After a poison event is parked, the following events are still handled."""

    async def handler(envelope: Envelope, conn: Connection) -> None:
        if envelope.payload.slo_id == "poison":  # type: ignore[attr-defined]
            raise RuntimeError("always fails")
        await _record_effect(envelope, conn)

    consumer = await _start(infra, handler)
    await _publish(infra, _envelope(slo="poison"))
    await _publish(infra, _envelope(slo="fine"))
    await _settled(infra, consumer.durable, 2)
    await infra.stream_count(DLQ_STREAM, at_least=1)
    assert [note for _, _, note in await _effects(infra.db)] == ["fine"]


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (None, "not a Portico CloudEvent: missing headers ce-id, ce-source, ce-type"),
        ({"ce-type": "slo.violated"}, "not a Portico CloudEvent: missing headers ce-id, ce-source"),
    ],
)
async def test_undecodable_message_is_dead_lettered_at_once(
    infra: Any, headers: dict[str, str] | None, reason: str
) -> None:
    """A message without CloudEvents headers goes to the DLQ on first delivery, unhandled."""
    calls = 0

    async def handler(envelope: Envelope, conn: Connection) -> None:
        nonlocal calls
        calls += 1

    consumer = await _start(infra, handler)
    await infra.js.publish("portico.slo.violated", b"\x01garbage", headers=headers)
    [dead] = await infra.stream_count(DLQ_STREAM, at_least=1)
    await _settled(infra, consumer.durable, 1)
    assert dead.subject == f"portico-dlq.{consumer.durable}.undecodable"
    assert dead.headers["portico-dlq-reason"].startswith(reason)
    assert dead.headers["portico-dlq-deliveries"] == "1"
    assert dead.data == b"\x01garbage"
    assert calls == 0


async def test_corrupt_payload_is_dead_lettered_at_once(infra: Any) -> None:
    """Valid headers around a body that is not the event's protobuf go to the DLQ unretried."""
    envelope = _envelope()
    consumer = await _start(infra, _record_effect)
    await infra.js.publish(envelope.nats_subject, b"\x0a\xff", headers=envelope.headers())
    [dead] = await infra.stream_count(DLQ_STREAM, at_least=1)
    await _settled(infra, consumer.durable, 1)
    assert dead.headers["portico-dlq-reason"] == (
        "slo.violated: payload is not a valid SloViolated"
    )
    assert dead.headers["ce-id"] == envelope.id
    assert await _effects(infra.db) == []


async def test_consumer_keeps_consuming_across_a_nats_restart(
    infra: Any, nats_server: NatsServer
) -> None:
    """A consumer running through a NATS outage handles events published after it."""
    consumer = await _start(infra, _record_effect)
    await _publish(infra, _envelope(slo="before"))
    await _settled(infra, consumer.durable, 1)
    nats_server.restart()
    await infra.until(
        lambda: _publish_ok(infra, _envelope(slo="after")), what="publish after restart"
    )
    await infra.until(lambda: _effects(infra.db), lambda rows: len(rows) == 2, within=15.0)
    assert [note for _, _, note in await _effects(infra.db)] == ["after", "before"]


async def _publish_ok(infra: Any, envelope: Envelope) -> bool:
    try:
        await infra.js.publish(
            envelope.nats_subject, envelope.body(), headers=envelope.headers(), timeout=0.5
        )
    except Exception:  # noqa: BLE001 - still reconnecting
        return False
    return True


async def test_stopped_consumer_lets_the_connection_drain_promptly(infra: Any) -> None:
    """Once run() returns, draining the NATS connection (graceful shutdown) does not hang."""
    nc = await connect(infra.nc.connected_url.geturl(), "draining")
    js = nc.jetstream()
    consumer = EventConsumer(js, infra.db, unique("drain"), {"slo.violated": _record_effect}, FAST)
    # Set up before anything waits on the durable (run() would do it, but later).
    await consumer.setup()
    stop = asyncio.Event()
    running = asyncio.create_task(consumer.run(stop))
    await _publish(infra, _envelope())
    await _settled(infra, consumer.durable, 1)
    stop.set()
    await asyncio.wait_for(running, 5)
    started = time.monotonic()
    await nc.drain()
    assert time.monotonic() - started < 5.0  # nats-py's drain_timeout is 30 s


async def test_setup_is_safe_on_every_start(infra: Any) -> None:
    """Setting a durable up again keeps it; a new handler widens its filter on the next start."""
    durable = unique("svc")
    first = EventConsumer(infra.js, infra.db, durable, {"slo.violated": _record_effect}, FAST)
    await first.setup()
    await first.setup()
    await _publish(infra, _envelope())
    handlers = {"slo.violated": _record_effect, "rollout.completed": _record_effect}
    upgraded = EventConsumer(infra.js, infra.db, durable, handlers, FAST)
    await upgraded.setup()
    info = await infra.js.consumer_info(STREAM, durable)
    assert info.config.filter_subjects == ["portico.rollout.completed", "portico.slo.violated"]
    assert info.num_pending == 1  # the event published before the restart still awaits it


async def test_poison_message_is_not_lost_when_parking_it_fails(infra: Any) -> None:
    """If the dead-letter publish fails, the consumer survives and parks the event later."""
    calls = 0

    async def poison(envelope: Envelope, conn: Connection) -> None:
        nonlocal calls
        calls += 1
        raise ValueError("always fails")

    await infra.js.delete_stream(DLQ_STREAM)  # the dead-letter publish has nowhere to go
    consumer = await _start(infra, poison)
    await _publish(infra, _envelope())

    async def attempts() -> int:
        return calls

    await infra.until(attempts, lambda n: n > FAST.max_deliver, what="retry after failed parking")
    await ensure_streams(infra.js)
    [dead] = await infra.stream_count(DLQ_STREAM, at_least=1)
    assert int(dead.headers["portico-dlq-deliveries"]) > FAST.max_deliver
    assert dead.headers["portico-dlq-reason"] == "ValueError: always fails"
    await _settled(infra, consumer.durable, 1)


async def test_an_event_from_a_service_that_does_not_own_its_type_is_parked(infra: Any) -> None:
    """A slo.violated claiming to come from rollout is dead-lettered at once, never applied."""
    forged = Envelope.of(
        ev.SloViolated(tenant_id="acme", slo_id="slo-1", plugin="@acme/cost", version="2.3.0"),
        source="portico/rollout",
        tenant_id="acme",
    )
    consumer = await _start(infra, _record_effect)
    await _publish(infra, forged)
    [dead] = await infra.stream_count(DLQ_STREAM, at_least=1)
    await _settled(infra, consumer.durable, 1)
    assert dead.subject == f"portico-dlq.{consumer.durable}.forged-source"
    assert dead.headers["portico-dlq-reason"] == (
        "slo.violated is published by portico/slo, not 'portico/rollout'"
    )
    assert dead.headers["portico-dlq-deliveries"] == "1"
    assert await _effects(infra.db) == []
    assert await _inbox(infra.pool) == []


async def test_dead_letters_carry_no_nats_control_headers_of_the_original(infra: Any) -> None:
    """A poison message that pinned its stream still reaches the DLQ (another stream)."""

    async def poison(envelope: Envelope, conn: Connection) -> None:
        raise ValueError("always fails")

    envelope = _envelope()
    consumer = await _start(infra, poison)
    headers = envelope.headers() | {"Nats-Expected-Stream": STREAM}
    await infra.js.publish(envelope.nats_subject, envelope.body(), headers=headers)
    [dead] = await infra.stream_count(DLQ_STREAM, at_least=1)
    await _settled(infra, consumer.durable, 1)
    nats_headers = {k for k in dead.headers if k.lower().startswith("nats-")}
    assert nats_headers == {"Nats-Msg-Id"}
    assert dead.headers["Nats-Msg-Id"] == f"{envelope.id}:dlq:{consumer.durable}"
