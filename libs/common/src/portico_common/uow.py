"""Unit of work: one tenant-scoped transaction, its repositories, its events.

Services subclass `PgUnitOfWork` to add repositories built on `conn`; events
emitted inside go to the outbox of the same transaction (no dual writes).
The app layer depends only on the `EventSink` shape, so unit tests pass a
fake that records events in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol, TypeVar

from google.protobuf.message import Message

from portico_common.clock import Clock
from portico_common.db import Connection, Database
from portico_common.events.envelope import Envelope
from portico_common.events.outbox import write_events


class EventSink(Protocol):
    """Where the app layer puts the events a change causes."""

    async def emit(self, payload: Message, *, subject: str = "") -> None: ...


class PgUnitOfWork:
    """The transaction's connection plus an outbox-backed event sink."""

    def __init__(self, conn: Connection, *, source: str, tenant_id: str, clock: Clock) -> None:
        self.conn = conn
        self.source = source
        self.tenant_id = tenant_id
        self.clock = clock

    async def emit(self, payload: Message, *, subject: str = "") -> None:
        await self.emit_all([(payload, subject)])

    async def emit_all(self, events: Sequence[tuple[Message, str]]) -> None:
        """Writes (payload, subject) events to the outbox in order, in one round trip."""
        now = self.clock.now()
        await write_events(
            self.conn,
            [
                Envelope.of(
                    payload,
                    source=self.source,
                    tenant_id=getattr(payload, "tenant_id", "") or self.tenant_id,
                    subject=subject,
                    time=now,
                )
                for payload, subject in events
            ],
        )


U = TypeVar("U", bound=PgUnitOfWork)


def uow_factory(
    db: Database, make: Callable[[Connection, str], U]
) -> Callable[[str], AbstractAsyncContextManager[U]]:
    """`factory(tenant_id)` opens a transaction and yields the unit of work; commit on exit."""

    @asynccontextmanager
    async def open_uow(tenant_id: str) -> AsyncIterator[U]:
        async with db.transaction(tenant_id) as conn:
            yield make(conn, tenant_id)

    return open_uow


class RecordingEventSink:  # shipped here so every service's tests share it
    """An in-memory EventSink for unit tests of the application layer."""

    def __init__(self) -> None:
        self.events: list[tuple[Message, str]] = []

    async def emit(self, payload: Message, *, subject: str = "") -> None:
        self.events.append((payload, subject))

    def of_type(self, cls: type[Message]) -> list[Message]:
        return [e for e, _ in self.events if isinstance(e, cls)]
