"""Scheduled, batched purges that keep the kernel's and services' logs bounded.

A rule names a table, the timestamp column that ages its rows, how long they
are kept and which rows may go at all (sent outbox rows, finished
deliveries). The purge deletes at most `batch_size` rows per transaction,
picked with SKIP LOCKED so it never waits on a row the hot path holds, and
pauses between batches, so a million old rows leave in many short
transactions instead of one long one that would hold locks and bloat WAL.

The kernel's own rules cover the outbox (published rows), the inbox (kept
past the stream's retention: a message still in the stream may be delivered
again, and only its inbox row makes that harmless), idempotency keys and
access denials; a service adds rules for its own logs (`serve(retention=...)`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from portico_common.db import POOL, Database, Place
from portico_common.errors import ConfigurationError
from portico_common.events.bus import StreamSettings
from portico_common.metrics import RETENTION_LAST_RUN, RETENTION_PURGED
from portico_common.settings import ServiceSettings

log = logging.getLogger(__name__)

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
DAY = 24 * 3600.0


@dataclass(frozen=True)
class RetentionRule:
    """Rows of `table` whose `column` is older than `keep_seconds` (and match `only`) go."""

    table: str
    column: str
    keep_seconds: float
    # An extra SQL condition on the row (no parameters): which rows are finished.
    only: str = ""

    def __post_init__(self) -> None:
        for name in (self.table, self.column):
            if not _IDENTIFIER.match(name):
                raise ValueError(f"not a plain SQL identifier: {name!r}")
        if self.keep_seconds <= 0:
            raise ValueError(f"{self.table}: keep_seconds must be positive")

    def statement(self) -> str:
        """One batch: $1 the age in seconds, $2 the batch size; returns the rows deleted.

        The cutoff is the database's clock, the one that stamped the kernel's rows.
        """
        condition = f"{self.column} < now() - make_interval(secs => $1)" + (
            f" AND ({self.only})" if self.only else ""
        )
        # ctid works for any table whatever its key; SKIP LOCKED leaves rows the
        # hot path is updating to the next run instead of waiting on them.
        return (
            f"DELETE FROM {self.table} WHERE ctid = ANY(ARRAY("  # noqa: S608 - identifiers checked
            f"SELECT ctid FROM {self.table} WHERE {condition} "
            "LIMIT $2 FOR UPDATE SKIP LOCKED))"
        )


@dataclass(frozen=True)
class RetentionSettings:
    """How long the kernel's tables keep rows, and how purges pace themselves."""

    outbox_seconds: float = DAY
    inbox_seconds: float = 8 * DAY
    idempotency_seconds: float = DAY
    access_denials_seconds: float = 90 * DAY
    batch_size: int = 5000
    pause_seconds: float = 0.05


def kernel_rules(
    settings: RetentionSettings, *, stream_max_age_seconds: float, idempotency_stale_seconds: float
) -> list[RetentionRule]:
    """The kernel tables' rules; refuses settings that would let a replay apply twice."""
    if settings.inbox_seconds < stream_max_age_seconds:
        raise ConfigurationError(
            f"inbox retention ({settings.inbox_seconds:.0f}s) is shorter than the event stream's"
            f" ({stream_max_age_seconds:.0f}s): a message still in the stream could be"
            " delivered again after its inbox row is gone, and applied twice"
        )
    if settings.idempotency_seconds <= idempotency_stale_seconds:
        raise ConfigurationError(
            "idempotency-key retention must be longer than the time after which an"
            f" in-flight key is reclaimed ({idempotency_stale_seconds:.0f}s)"
        )
    return [
        RetentionRule("outbox", "published_at", settings.outbox_seconds),
        RetentionRule("inbox", "processed_at", settings.inbox_seconds),
        RetentionRule("idempotency_keys", "updated_at", settings.idempotency_seconds),
        RetentionRule("access_denials", "denied_at", settings.access_denials_seconds),
    ]


class Retention:
    """Purges every rule's expired rows in batches, as one job of a service."""

    def __init__(
        self,
        db: Database,
        rules: Sequence[RetentionRule],
        *,
        batch_size: int = 5000,
        pause_seconds: float = 0.05,
    ) -> None:
        self._db = db
        self._rules = list(rules)
        self._batch = batch_size
        self._pause = pause_seconds

    @property
    def rules(self) -> list[RetentionRule]:
        return list(self._rules)

    async def purge(
        self, rule: RetentionRule, stop: asyncio.Event | None = None, place: Place = POOL
    ) -> int:
        """Deletes `rule`'s expired rows in one place, batch after batch; returns how many went."""
        statement = rule.statement()
        total = 0
        while stop is None or not stop.is_set():
            # ALL_TENANTS: a platform job, which row-level security lets see every tenant.
            async with self._db.platform_transaction(place) as conn:
                status = await conn.execute(statement, rule.keep_seconds, self._batch)
            deleted = int(status.rsplit(" ", 1)[-1])
            total += deleted
            RETENTION_PURGED.labels(self._db.schema, rule.table).inc(deleted)
            if deleted < self._batch:
                break
            await asyncio.sleep(self._pause)
        RETENTION_LAST_RUN.labels(self._db.schema, rule.table).set(time.time())
        return total

    async def purge_all(self, stop: asyncio.Event | None = None) -> dict[str, int]:
        """One pass over every rule; a failing rule is logged and the others still run."""
        purged: dict[str, int] = {}
        try:
            # The shared tables, then every tenant's bridge schema and silo database.
            places = await self._db.places()
        except Exception as exc:  # noqa: BLE001 - the next pass retries
            log.warning("retention cannot list places", extra={"error": exc})
            places = [POOL]
        for place in places:
            for rule in self._rules:
                try:
                    deleted = await self.purge(rule, stop, place)
                except Exception as exc:  # noqa: BLE001 - the next pass retries; one table never blocks the rest
                    log.warning(
                        "retention purge failed",
                        extra={"table": rule.table, "place": place.location, "error": exc},
                    )
                    continue
                purged[rule.table] = purged.get(rule.table, 0) + deleted
        if any(purged.values()):
            log.info("retention purged", extra={"rows": purged})
        return purged

    async def run(self, stop: asyncio.Event, every_seconds: float) -> None:
        """Purges at start and then every `every_seconds`, until `stop`."""
        while not stop.is_set():
            await self.purge_all(stop)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every_seconds)


def retention_job(
    db: Database, settings: ServiceSettings, extra: Sequence[RetentionRule] = ()
) -> list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]]:
    """The service's purge loop over the kernel's and its own rules (none when disabled)."""
    if settings.retention_interval_seconds <= 0:
        return []
    rules = kernel_rules(
        RetentionSettings(
            outbox_seconds=settings.retention_outbox_seconds,
            inbox_seconds=settings.retention_inbox_seconds,
            idempotency_seconds=settings.idempotency_ttl_seconds,
            access_denials_seconds=settings.retention_access_denials_seconds,
        ),
        stream_max_age_seconds=StreamSettings().max_age_seconds,
        idempotency_stale_seconds=settings.idempotency_stale_seconds,
    )
    purges = Retention(
        db,
        [*rules, *extra],
        batch_size=settings.retention_batch_size,
        pause_seconds=settings.retention_pause_seconds,
    )

    async def retention(stop: asyncio.Event) -> None:
        await purges.run(stop, settings.retention_interval_seconds)

    return [retention]
