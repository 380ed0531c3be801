"""Transactional outbox: events commit with the state change that caused them.

`write_event` / `write_events` run inside the caller's transaction. `OutboxRelay` publishes
committed rows in order and marks them sent; a NOTIFY from the insert
trigger wakes it at once, and a slow poll covers crashes and NATS outages.

Given the service's `Database`, the relay covers every place the service's
rows live in: the shared schema, each tenant's bridge schema (its outbox
NOTIFYs on its own channel, which the relay listens to as well) and each
silo database (woken by this process's commits there, else by the poll).
Each place is relayed in its own order, under its own advisory lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import ssl
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import asyncpg
from nats.js import JetStreamContext

from portico_common.db import POOL, Connection, Database, Place, Tier
from portico_common.events.envelope import Envelope
from portico_common.metrics import EVENTS_PUBLISHED, OUTBOX_OLDEST_PENDING, OUTBOX_PENDING
from portico_common.tracing import current_trace_headers, producer_span

log = logging.getLogger(__name__)


async def write_event(conn: Connection, envelope: Envelope) -> None:
    """Adds an event to the outbox in the caller's transaction."""
    await write_events(conn, [envelope])


async def write_events(conn: Connection, envelopes: Sequence[Envelope]) -> None:
    """Adds events to the outbox in the caller's transaction, in order, in one round trip.

    Each event still gets its own producer span: the trace context it carries.
    """
    rows = []
    for envelope in envelopes:
        headers = envelope.headers()
        with producer_span(envelope.type, envelope.nats_subject):
            headers.update(current_trace_headers())
        rows.append(
            (
                uuid.UUID(envelope.id),
                envelope.nats_subject,
                envelope.type,
                envelope.tenant_id,
                json.dumps(headers),
                envelope.body(),
            )
        )
    if not rows:
        return
    statement = """INSERT INTO outbox (event_id, subject, event_type, tenant_id, headers, payload)
                   VALUES ($1, $2, $3, $4, $5::jsonb, $6)"""
    if len(rows) == 1:
        await conn.execute(statement, *rows[0])
    else:
        # asyncpg pipelines the rows and waits once; they keep their order (seq).
        await conn.executemany(statement, rows)


class OutboxRelay:
    """Moves committed outbox rows to JetStream, at least once, in order."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        dsn: str,
        schema: str,
        js: JetStreamContext,
        *,
        poll_seconds: float = 1.0,
        batch_size: int = 100,
        publish_timeout: float = 5.0,
        gauge_seconds: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
        db: Database | None = None,
    ) -> None:
        self._pool = pool
        self._db = db
        self._places: list[Place] = [POOL]
        # Places a NOTIFY or a local commit said have new rows.
        self._dirty: set[Place] = set()
        self._listening: set[str] = set()
        # Where to LISTEN for other processes' commits; "": nowhere, the poll finds them.
        self._dsn = dsn
        # The LISTEN connection is opened apart from the pool, with the pool's TLS.
        self._ssl = ssl_context
        self._schema = schema
        self._js = js
        self._poll = poll_seconds
        self._batch = batch_size
        self._timeout = publish_timeout
        # How often the backlog gauges are read: a query of its own, so not after
        # every pass, where a commit arriving meanwhile would wait for it.
        self._gauge_seconds = gauge_seconds
        self._gauges_due = 0.0
        self._wake = asyncio.Event()
        self._listener: asyncpg.Connection | None = None

    def kick(self, place: Place | None = None) -> None:
        """Asks the relay to look now (the NOTIFY trigger does this across processes)."""
        if place is not None:
            self._dirty.add(place)
        self._wake.set()

    async def relay_places(self, places: list[Place] | None = None) -> int:
        """Publishes up to one batch from each place (all known ones by default)."""
        if self._db is not None and places is None:
            self._places = await self._db.places()
        sent = 0
        for place in places if places is not None else self._places:
            sent += await self.relay_once(place)
        return sent

    @asynccontextmanager
    async def _open(self, place: Place) -> AsyncIterator[Connection]:
        if self._db is None:
            async with self._pool.acquire() as pooled, pooled.transaction():
                yield pooled
        else:
            async with self._db.platform_transaction(place) as conn:
                yield conn

    async def relay_once(self, place: Place = POOL) -> int:
        """Publishes up to one batch from one place; returns how many rows were marked sent."""
        async with self._open(place) as conn:
            # One relay per place at a time: a replica skipping rows another has
            # locked would publish later events before earlier ones.
            key = (
                f"portico:outbox:{self._schema}:{place.location}"
                if place.location
                else (f"portico:outbox:{self._schema}")
            )
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtext($1))", key):
                return 0
            rows = await conn.fetch(
                """SELECT seq, subject, event_type, headers, payload FROM outbox
                    WHERE published_at IS NULL ORDER BY seq LIMIT $1
                    FOR UPDATE SKIP LOCKED""",
                self._batch,
            )
            sent: list[int] = []
            failure: BaseException | None = None
            for row in rows:
                try:
                    await self._js.publish(
                        row["subject"],
                        bytes(row["payload"]),
                        timeout=self._timeout,
                        headers=json.loads(row["headers"]),
                    )
                except Exception as exc:  # noqa: BLE001 - any publish failure stops the batch
                    failure = exc
                    await conn.execute(
                        """UPDATE outbox SET attempts = attempts + 1,
                            last_error = $2 WHERE seq = $1""",
                        row["seq"],
                        str(exc)[:500] or type(exc).__name__,
                    )
                    break
                sent.append(row["seq"])
                EVENTS_PUBLISHED.labels(self._schema, row["event_type"]).inc()
            if sent:
                await conn.execute(
                    "UPDATE outbox SET published_at = now() WHERE seq = ANY($1)",
                    sent,
                )
        if failure is not None:
            raise failure
        return len(sent)

    async def pending(self) -> int:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                """SELECT count(*) AS pending,
                          coalesce(extract(epoch FROM now() - min(created_at)), 0) AS oldest
                     FROM outbox WHERE published_at IS NULL"""
            )
        assert row is not None  # noqa: S101 - an aggregate always returns a row
        OUTBOX_PENDING.labels(self._schema).set(row["pending"])
        OUTBOX_OLDEST_PENDING.labels(self._schema).set(float(row["oldest"]))
        return int(row["pending"])

    async def run(self, stop: asyncio.Event) -> None:
        """Relays until `stop` is set; survives NATS and Postgres outages."""
        failures = 0
        # Woken by a NOTIFY or a local commit: only the places named; by the poll: all.
        everywhere = True
        while not stop.is_set():
            await self._ensure_listener()
            self._wake.clear()
            try:
                if everywhere or self._db is None:
                    sent = await self.relay_places()
                    self._dirty.clear()
                    await self._listen_to_bridges()
                else:
                    dirty, self._dirty = self._dirty, set()
                    sent = await self.relay_places(sorted(dirty, key=str) or [POOL])
                failures = 0
            except Exception as exc:  # noqa: BLE001 - outages are retried, never fatal
                failures += 1
                delay = min(5.0, 0.05 * 2**failures) * random.uniform(0.5, 1.0)  # noqa: S311
                log.warning("outbox relay failed, retrying", extra={"error": str(exc), "in": delay})
                await _sleep_or_stop(stop, delay)
                continue
            if sent >= self._batch:
                everywhere = True
                continue  # more are waiting
            if time.monotonic() >= self._gauges_due:
                self._gauges_due = time.monotonic() + self._gauge_seconds
                with contextlib.suppress(Exception):
                    await self.pending()
            waiter = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait(
                {waiter, stopper}, timeout=self._poll, return_when=asyncio.FIRST_COMPLETED
            )
            everywhere = not done
            waiter.cancel()
            stopper.cancel()
        await self._close_listener()

    async def _ensure_listener(self) -> None:
        if not self._dsn or (self._listener is not None and not self._listener.is_closed()):
            return
        self._listening = set()
        try:
            self._listener = await asyncpg.connect(self._dsn, timeout=5, ssl=self._ssl)
            await self._listen(self._schema)
        except (OSError, asyncpg.PostgresError) as exc:
            # Polling still works; the next loop tries again.
            log.warning("outbox listener unavailable", extra={"error": str(exc)})
            self._listener = None

    async def _listen(self, schema: str) -> None:
        if self._listener is not None and schema not in self._listening:
            await self._listener.add_listener(f"{schema}_outbox", self._on_notify)
            self._listening.add(schema)

    async def _listen_to_bridges(self) -> None:
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            for place in self._places:
                if place.tier is Tier.BRIDGE:
                    await self._listen(place.location)

    def _on_notify(self, _conn: object, _pid: object, channel: str, _payload: object) -> None:
        schema = channel.removesuffix("_outbox")
        self.kick(POOL if schema == self._schema else Place(Tier.BRIDGE, schema))

    async def _close_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            await self._listener.close()
        self._listener = None


async def _sleep_or_stop(stop: asyncio.Event, delay: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=delay)
