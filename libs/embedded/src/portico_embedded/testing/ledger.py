"""What went in and what came out of the bus, counted for one tenant.

After a chaos run (a process killed, a server restarted, every message
delivered twice) the books must balance:

- every event is on the stream once (one copy per `ce-id`), each type as
  often as the flow caused it;
- every durable consumer whose filter takes an event recorded it in its
  inbox (the row written in the transaction of the handler's effect, so the
  effect ran), and recorded nothing that is not on the stream;
- no outbox row is left unpublished and no idempotency key left in flight;
- the dead-letter stream holds nothing of the tenant's that the test did
  not expect.

`Ledger` reads the streams with an identity that may use the JetStream API
(the provisioner, under `portico up`) and the tables as the database's
administrator (behind row-level security). Counting starts at a `Mark` taken
before the tenant's first event: a run uses a tenant of its own, so its
whole share of the stream lies after the mark.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import asyncpg
from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError

from portico_common.events.catalog import DLQ_PREFIX, DLQ_STREAM, STREAM
from portico_common.events.envelope import TENANT_HEADER, Envelope
from portico_common.events.topology import CONSUMERS, SERVICES


@dataclass(frozen=True)
class Mark:
    """The last sequence of the event and dead-letter streams when the run began."""

    events: int
    dead_letters: int


@dataclass(frozen=True)
class DeadLetter:
    consumer: str
    kind: str
    event_type: str
    event_id: str
    reason: str


@dataclass
class Books:
    """One tenant's share of the streams and of every service's kernel tables."""

    tenant: str
    #: The tenant's events on the stream, in stream order (copies included).
    events: list[Envelope] = field(default_factory=list)
    #: Durable consumer -> the tenant's event ids in its inbox (those on the stream).
    deliveries: dict[str, set[str]] = field(default_factory=dict)
    #: (durable, event type, event id): on the stream, taken by the durable, not in its inbox.
    missing: list[tuple[str, str, str]] = field(default_factory=list)
    #: (durable, event id): in the durable's inbox, never on the stream.
    strays: list[tuple[str, str]] = field(default_factory=list)
    #: Schema -> the tenant's outbox rows not yet published.
    backlog: Counter[str] = field(default_factory=Counter)
    #: Schema -> the tenant's idempotency keys still in flight.
    in_flight: Counter[str] = field(default_factory=Counter)
    dead_letters: list[DeadLetter] = field(default_factory=list)

    @property
    def by_type(self) -> Counter[str]:
        """How many distinct events of each type (a copy of one counts once)."""
        seen: dict[str, str] = {}
        for envelope in self.events:
            seen.setdefault(envelope.id, envelope.type)
        return Counter(seen.values())

    @property
    def copies(self) -> Counter[str]:
        """Event id -> how many times it is on the stream."""
        return Counter(envelope.id for envelope in self.events)

    @property
    def duplicated(self) -> dict[str, int]:
        """The event ids on the stream more than once."""
        return {event_id: n for event_id, n in self.copies.items() if n > 1}

    def of_type(self, event_type: str) -> list[Envelope]:
        """The distinct events of one type, in stream order."""
        found: dict[str, Envelope] = {}
        for envelope in self.events:
            if envelope.type == event_type:
                found.setdefault(envelope.id, envelope)
        return list(found.values())

    @property
    def delivered(self) -> int:
        return sum(len(ids) for ids in self.deliveries.values())

    @property
    def settled(self) -> bool:
        """Nothing on its way any more: published, consumed, answered."""
        return not (self.missing or +self.backlog or +self.in_flight)

    def problems(self, *, copies_allowed: bool = False) -> list[str]:
        """Everything that does not balance, said plainly (empty: the books balance)."""
        found = []
        if self.duplicated and not copies_allowed:
            found.append(f"events on the stream more than once: {self.duplicated}")
        found += [f"{durable} never recorded {kind} {eid}" for durable, kind, eid in self.missing]
        found += [f"{durable} recorded {eid}, not on the stream" for durable, eid in self.strays]
        found += [f"{schema}: {n} outbox rows unpublished" for schema, n in (+self.backlog).items()]
        found += [
            f"{schema}: {n} idempotency keys in flight" for schema, n in (+self.in_flight).items()
        ]
        found += [
            f"dead letter at {d.consumer}: {d.event_type} {d.event_id} ({d.reason})"
            for d in self.dead_letters
        ]
        return found

    def summary(self) -> str:
        """One line: events in, deliveries out, and what is left over."""
        types = len(self.by_type)
        return (
            f"{len(self.copies)} events ({types} types) -> {self.delivered} deliveries"
            f" to {sum(1 for ids in self.deliveries.values() if ids)} consumers;"
            f" copies {sum(self.copies.values()) - len(self.copies)},"
            f" missing {len(self.missing)}, strays {len(self.strays)},"
            f" unpublished {sum(self.backlog.values())}, in flight {sum(self.in_flight.values())},"
            f" dead letters {len(self.dead_letters)}"
        )


class Ledger:
    """Counts one tenant's events on the streams against every service's kernel tables."""

    def __init__(
        self,
        js: JetStreamContext,
        admin: asyncpg.Connection,
        consumers: Mapping[str, Mapping[str, tuple[str, ...]]] = CONSUMERS,
        schemas: Iterable[str] = SERVICES,
    ) -> None:
        self._js = js
        self._admin = admin
        self._consumers = consumers
        self._schemas = tuple(schemas)

    async def mark(self) -> Mark:
        """Where the streams end now: take it before the run's tenant exists."""
        events = await self._js.stream_info(STREAM)
        dead = await self._js.stream_info(DLQ_STREAM)
        return Mark(events.state.last_seq, dead.state.last_seq)

    async def events(self, tenant: str, since: Mark) -> list[Envelope]:
        """The tenant's events published after the mark, in stream order, copies included."""
        return [
            Envelope.decode(dict(msg.headers or {}), msg.data or b"")
            for msg in await self._read(STREAM, since.events)
            if (msg.headers or {}).get(TENANT_HEADER) == tenant
        ]

    async def dead_letters(self, tenant: str, since: Mark) -> list[DeadLetter]:
        """The tenant's dead letters parked after the mark."""
        found = []
        for msg in await self._read(DLQ_STREAM, since.dead_letters):
            headers = msg.headers or {}
            if headers.get(TENANT_HEADER) != tenant:
                continue
            consumer, _, kind = (msg.subject or "").removeprefix(DLQ_PREFIX).partition(".")
            found.append(
                DeadLetter(
                    consumer=consumer,
                    kind=kind,
                    event_type=headers.get("ce-type", ""),
                    event_id=headers.get("ce-id", ""),
                    reason=headers.get("portico-dlq-reason", ""),
                )
            )
        return found

    async def books(self, tenant: str, since: Mark) -> Books:
        """The tenant's books as they stand now."""
        books = Books(tenant)
        books.events = await self.events(tenant, since)
        on_stream = {envelope.id: envelope.type for envelope in books.events}
        for schema, durables in self._consumers.items():
            rows = await self._admin.fetch(
                f"SELECT consumer, event_id FROM {schema}.inbox WHERE tenant_id = $1",  # noqa: S608 - schema from the topology
                tenant,
            )
            recorded: dict[str, set[str]] = {durable: set() for durable in durables}
            for row in rows:
                recorded.setdefault(row["consumer"], set()).add(row["event_id"])
            for durable, event_ids in recorded.items():
                books.deliveries[durable] = event_ids & on_stream.keys()
                books.strays += [(durable, eid) for eid in sorted(event_ids - on_stream.keys())]
                wanted = set(durables.get(durable, ()))
                books.missing += [
                    (durable, kind, eid)
                    for eid, kind in on_stream.items()
                    if kind in wanted and eid not in event_ids
                ]
        for schema in self._schemas:
            books.backlog[schema] = await self._admin.fetchval(
                f"SELECT count(*) FROM {schema}.outbox"  # noqa: S608 - schema from the topology
                " WHERE published_at IS NULL AND tenant_id = $1",
                tenant,
            )
            books.in_flight[schema] = await self._admin.fetchval(
                f"SELECT count(*) FROM {schema}.idempotency_keys"  # noqa: S608 - schema from the topology
                " WHERE state = 'in_flight' AND tenant_id = $1",
                tenant,
            )
        books.dead_letters = await self.dead_letters(tenant, since)
        return books

    async def settled(self, tenant: str, since: Mark, *, within: float = 30.0) -> Books:
        """The books once everything on its way has arrived (or as they stand at `within`)."""
        deadline = time.monotonic() + within
        while True:
            books = await self.books(tenant, since)
            if books.settled or time.monotonic() > deadline:
                return books
            await asyncio.sleep(0.2)

    async def _read(self, stream: str, after: int) -> list[RawStreamMsg]:
        last = (await self._js.stream_info(stream)).state.last_seq
        found = []
        for seq in range(after + 1, last + 1):
            try:
                found.append(await self._js.get_msg(stream, seq))
            except NotFoundError:
                continue  # removed (a redriven or discarded dead letter)
        return found
