"""Transactional outbox: events leave only with their commit, in order, through outages."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import pytest
from google.protobuf.message import Message

from portico.events.v1 import events_pb2 as ev
from portico_common.clock import ManualClock
from portico_common.db import ALL_TENANTS, Database
from portico_common.events.envelope import TENANT_HEADER, Envelope
from portico_common.events.outbox import OutboxRelay
from portico_common.tracing import configure_tracing
from portico_common.uow import PgUnitOfWork
from portico_embedded.nats import NatsServer

pytestmark = pytest.mark.integration

SCHEMA = "kerneltest"
CLOCK = ManualClock()


def _phase(index: int, tenant: str = "acme") -> ev.RolloutPhaseAdvanced:
    return ev.RolloutPhaseAdvanced(
        tenant_id=tenant, rollout_id="r-1", plugin="@acme/cost", version="2.3.0", phase_index=index
    )


async def _emit(db: Database, *payloads: Message, tenant: str = "acme", subject: str = "") -> None:
    """Commits the payloads as events in one transaction, as a use case would."""
    async with db.transaction(tenant) as conn:
        uow = PgUnitOfWork(conn, source="portico/test", tenant_id=tenant, clock=CLOCK)
        for payload in payloads:
            await uow.emit(payload, subject=subject)


async def _outbox(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await conn.fetch(
            "SELECT event_id::text, published_at, attempts, last_error FROM outbox ORDER BY seq"
        )


def _relay(infra: Any, **options: Any) -> OutboxRelay:
    return OutboxRelay(infra.pool, infra.dsn, SCHEMA, infra.js, **options)


def _indexes(messages: list[Any]) -> list[int]:
    return [Envelope.decode(m.headers, m.data).payload.phase_index for m in messages]  # type: ignore[attr-defined]


async def test_rolled_back_event_is_never_published(infra: Any) -> None:
    """An event emitted in a transaction that rolls back leaves no row and reaches no one."""

    async def failing_use_case() -> None:
        async with infra.db.transaction("acme") as conn:
            uow = PgUnitOfWork(conn, source="portico/test", tenant_id="acme", clock=CLOCK)
            await uow.emit(_phase(1))
            raise RuntimeError("use case failed")

    with pytest.raises(RuntimeError, match="use case failed"):
        await failing_use_case()
    relay = _relay(infra)
    assert await relay.relay_once() == 0
    assert await _outbox(infra.pool) == []
    await _emit(infra.db, _phase(2))
    assert await relay.relay_once() == 1
    assert _indexes(await infra.stream()) == [2]


async def test_committed_event_is_published_as_a_cloudevent(infra: Any) -> None:
    """A committed event reaches JetStream with CloudEvents headers and Nats-Msg-Id = ce-id."""
    await _emit(infra.db, _phase(1), subject="r-1")
    assert await _relay(infra).relay_once() == 1

    [row] = await _outbox(infra.pool)
    [message] = await infra.stream()
    assert message.subject == "portico.rollout.phase.advanced"
    headers = message.headers
    assert headers["ce-id"] == row["event_id"]
    assert headers["Nats-Msg-Id"] == row["event_id"]
    assert headers["ce-source"] == "portico/test"
    assert headers["ce-type"] == "rollout.phase.advanced"
    assert headers["ce-specversion"] == "1.0"
    assert headers["ce-time"] == "2026-01-01T00:00:00Z"  # the unit of work's clock
    assert headers["ce-subject"] == "r-1"
    assert headers[TENANT_HEADER] == "acme"
    assert Envelope.decode(headers, message.data).payload == _phase(1)
    assert row["published_at"] is not None
    assert row["attempts"] == 0


async def test_event_tenant_comes_from_the_payload(infra: Any) -> None:
    """A platform job's event carries the tenant named in its payload, not '*'."""
    await _emit(infra.db, _phase(1, tenant="beta"), tenant=ALL_TENANTS)
    await _relay(infra).relay_once()
    [message] = await infra.stream()
    assert message.headers[TENANT_HEADER] == "beta"


async def test_published_rows_are_not_sent_again(infra: Any) -> None:
    """A second pass of the relay finds nothing left to send."""
    await _emit(infra.db, _phase(1), _phase(2))
    relay = _relay(infra)
    assert await relay.relay_once() == 2
    assert await relay.relay_once() == 0
    assert await relay.pending() == 0
    assert len(await infra.stream()) == 2


async def test_events_are_published_in_order(infra: Any) -> None:
    """Events from successive transactions arrive in the order they were committed."""
    await _emit(infra.db, _phase(0), _phase(1), _phase(2))
    await _emit(infra.db, _phase(3), _phase(4))
    await _emit(infra.db, _phase(5), _phase(6))
    # A batch smaller than the backlog makes the relay go round several times.
    infra.background.start(_relay(infra, batch_size=2).run)
    assert _indexes(await infra.stream_count(at_least=7)) == [0, 1, 2, 3, 4, 5, 6]
    assert all(row["published_at"] is not None for row in await _outbox(infra.pool))


class _SlowJetStream:
    """A JetStream context whose first publish hangs until released (a slow replica)."""

    def __init__(self, js: Any) -> None:
        self._js = js
        self.publishing = asyncio.Event()
        self.release = asyncio.Event()

    async def publish(self, *args: Any, **kwargs: Any) -> Any:
        self.publishing.set()
        await self.release.wait()
        return await self._js.publish(*args, **kwargs)


async def test_relay_replicas_keep_the_order(infra: Any) -> None:
    """Two replicas' relays on one outbox never publish a later event before an earlier one."""
    await _emit(infra.db, _phase(0))
    await _emit(infra.db, _phase(1))
    slow = _SlowJetStream(infra.js)
    first = OutboxRelay(infra.pool, infra.dsn, SCHEMA, slow, batch_size=1)  # type: ignore[arg-type]
    second = _relay(infra, batch_size=1)
    in_progress = asyncio.create_task(first.relay_once())
    await asyncio.wait_for(slow.publishing.wait(), 5)  # the first replica holds event 0
    await second.relay_once()
    slow.release.set()
    assert await in_progress == 1
    while await second.relay_once():
        pass
    assert _indexes(await infra.stream()) == [0, 1]


async def test_relay_is_woken_by_the_commit(infra: Any) -> None:
    """A commit wakes an idle relay through NOTIFY; it does not wait for its 30 s poll."""
    infra.background.start(_relay(infra, poll_seconds=30).run)
    await _emit(infra.db, _phase(0))
    # Once the first event is marked sent, the relay has finished that pass and is idle.
    await infra.until(
        lambda: _outbox(infra.pool),
        lambda rows: rows[0]["published_at"] is not None,
        what="first event marked published",
    )
    started = time.monotonic()
    await _emit(infra.db, _phase(1))
    await infra.until(
        infra.stream,
        lambda ms: len(ms) == 2,
        within=5.0,
        what="second event published without waiting for the poll",
    )
    assert time.monotonic() - started < 5.0


async def test_outbox_survives_a_nats_restart(infra: Any, nats_server: NatsServer) -> None:
    """Events committed while NATS is down stay queued, then arrive exactly once and in order."""
    infra.background.start(_relay(infra, poll_seconds=0.2, publish_timeout=0.5).run)
    await _emit(infra.db, _phase(0))
    await infra.stream_count(at_least=1)

    nats_server.stop()
    for index in (1, 2, 3):
        await _emit(infra.db, _phase(index))
    # The relay keeps failing on the oldest row and never skips ahead of it.
    rows = await infra.until(
        lambda: _outbox(infra.pool),
        lambda rows: rows[1]["attempts"] >= 2,
        within=15.0,
        what="relay retried the first queued event",
    )
    assert [r["published_at"] is None for r in rows] == [False, True, True, True]
    assert rows[1]["last_error"]
    assert [r["attempts"] for r in rows[2:]] == [0, 0]

    nats_server.start()
    await infra.until(
        lambda: _outbox(infra.pool),
        lambda rows: all(r["published_at"] is not None for r in rows),
        within=20.0,
        what="all queued events published after NATS came back",
    )
    published = await infra.stream()
    # Timed-out attempts may have reached the server too; Nats-Msg-Id dedup drops them.
    assert [m.headers["ce-id"] for m in published] == [r["event_id"] for r in rows]
    assert _indexes(published) == [0, 1, 2, 3]


async def test_backlog_gauges_are_read_on_their_own_pace(infra: Any) -> None:
    """Commits one after another are each relayed without a gauge query between them:
    the backlog is read when the relay starts and then only every `gauge_seconds`."""
    relay = _relay(infra, poll_seconds=30, gauge_seconds=3600)
    reads: list[int] = []
    read_backlog = relay.pending

    async def counted() -> int:
        reads.append(await read_backlog())
        return reads[-1]

    relay.pending = counted  # type: ignore[method-assign]
    infra.background.start(relay.run)
    for index in range(5):
        await _emit(infra.db, _phase(index))
        await infra.until(
            infra.stream, lambda ms, n=index + 1: len(ms) == n, what=f"event {index} relayed"
        )
    assert _indexes(await infra.stream()) == [0, 1, 2, 3, 4]
    assert len(reads) == 1


async def test_events_written_together_leave_in_order_each_with_its_span(infra: Any) -> None:
    """emit_all's rows are relayed in the order given, each with its own producer span."""
    configure_tracing("portico-kernel-tests")
    async with infra.db.transaction("acme") as conn:
        uow = PgUnitOfWork(conn, source="portico/test", tenant_id="acme", clock=CLOCK)
        await uow.emit_all([(_phase(index), "r-1") for index in range(3)])
    assert await _relay(infra).relay_once() == 3
    messages = await infra.stream()
    assert _indexes(messages) == [0, 1, 2]
    assert len({m.headers["ce-id"] for m in messages}) == 3
    assert len({m.headers["traceparent"].split("-")[2] for m in messages}) == 3
