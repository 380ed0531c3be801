"""Unit of work: state and events commit together, and traces ride along with events."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import trace

from portico.events.v1 import events_pb2 as ev
from portico_common.clock import ManualClock
from portico_common.db import ALL_TENANTS, Connection
from portico_common.events.consumer import ConsumerSettings, EventConsumer
from portico_common.events.envelope import Envelope
from portico_common.events.outbox import OutboxRelay
from portico_common.tracing import configure_tracing, current_ids, tracer
from portico_common.uow import PgUnitOfWork, uow_factory
from portico_embedded.testing.fixtures import unique

pytestmark = pytest.mark.integration

SCHEMA = "kerneltest"


def _make(conn: Connection, tenant: str) -> PgUnitOfWork:
    # The kernel tests write tenancy's events, so they speak as tenancy.
    return PgUnitOfWork(conn, source="portico/tenancy", tenant_id=tenant, clock=ManualClock())


async def _counts(infra: Any) -> tuple[int, int]:
    """Notes of every tenant (read as a platform job reads) and outbox rows."""
    async with infra.db.transaction(ALL_TENANTS) as conn:
        return (
            await conn.fetchval("SELECT count(*) FROM notes"),
            await conn.fetchval("SELECT count(*) FROM outbox"),
        )


async def test_state_and_event_commit_together(infra: Any) -> None:
    """A unit of work that completes commits its row and its outbox event."""
    open_uow = uow_factory(infra.db, _make)
    async with open_uow("acme") as uow:
        await uow.conn.execute("INSERT INTO notes (tenant_id, body) VALUES ('acme', 'hello')")
        await uow.emit(ev.TenantCreated(tenant_id="acme"))
    assert await _counts(infra) == (1, 1)


async def test_state_and_event_roll_back_together(infra: Any) -> None:
    """A unit of work that raises leaves neither its row nor its event behind."""
    open_uow = uow_factory(infra.db, _make)

    async def use_case() -> None:
        async with open_uow("acme") as uow:
            await uow.conn.execute("INSERT INTO notes (tenant_id, body) VALUES ('acme', 'hello')")
            await uow.emit(ev.TenantCreated(tenant_id="acme"))
            raise ValueError("domain rule broken")

    with pytest.raises(ValueError, match="domain rule broken"):
        await use_case()
    assert await _counts(infra) == (0, 0)


async def test_unit_of_work_is_tenant_scoped(infra: Any) -> None:
    """The factory's transaction is under row-level security for the tenant it was opened for."""
    open_uow = uow_factory(infra.db, _make)
    async with open_uow("beta") as uow:
        await uow.conn.execute("INSERT INTO notes (tenant_id, body) VALUES ('beta', 'b')")
    async with open_uow("acme") as uow:
        assert uow.tenant_id == "acme"
        assert await uow.conn.fetchval("SELECT count(*) FROM notes") == 0


async def test_trace_continues_from_use_case_to_consumer(infra: Any) -> None:
    """The span that emitted an event is the parent trace of the handler that consumes it."""
    configure_tracing("portico-kernel-tests")
    open_uow = uow_factory(infra.db, _make)
    with tracer().start_as_current_span("CreateTenant") as span:
        emitted_trace = f"{span.get_span_context().trace_id:032x}"
        async with open_uow("acme") as uow:
            await uow.emit(ev.TenantCreated(tenant_id="acme"))
    assert trace.get_current_span().get_span_context().is_valid is False

    await OutboxRelay(infra.pool, infra.dsn, SCHEMA, infra.js).relay_once()
    [message] = await infra.stream()
    assert message.headers["traceparent"].split("-")[1] == emitted_trace

    handled: list[str] = []

    async def handler(envelope: Envelope, conn: Connection) -> None:
        handled.append(current_ids()[0])

    consumer = EventConsumer(
        infra.js,
        infra.db,
        unique("traced"),
        {"tenant.created": handler},
        ConsumerSettings(fetch_timeout_seconds=0.2),
    )
    await consumer.setup()
    infra.background.start(consumer.run)
    await infra.until(lambda: _value(handled), what="handler ran")
    assert handled == [emitted_trace]


async def _value(items: list[str]) -> list[str]:
    return items
