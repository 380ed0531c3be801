"""PostgreSQL adapter of the breaker port: one row per plugin version's breaker.

The row holds the whole state machine: configuration (JSON), state, the
state's sliding window (JSON, as `to_doc` writes it) and its counters, so
any replica that locks the row continues exactly where the last one left it.
Events go to the outbox through the unit of work, in the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from portico_common.db import Connection
from portico_common.uow import EventSink
from portico_slo.adapters.breakers_messages import breaker_message
from portico_slo.app.breakers_ports import BreakerFilter, BreakerRecord, breaker_name
from portico_slo.domain.breakers import Breaker
from portico_slo.domain.breakers_config import BreakerConfig, BreakerState, WindowType
from portico_slo.domain.breakers_events import BreakerEvent
from portico_slo.domain.breakers_windows import window_of

COLUMNS = """breaker_id, tenant_id, plugin, version, slo_id, config, state, since, attempts,
    sliding_window, window_minimum, not_permitted_calls, open_until, half_open_until,
    announced, transitions, created_at, updated_at"""

_DURATIONS = (
    "slow_call_duration_threshold",
    "wait_duration_in_open_state",
    "max_wait_duration_in_open_state",
    "max_wait_duration_in_half_open_state",
)


def config_json(config: BreakerConfig) -> dict[str, Any]:
    """The configuration as JSON; durations in microseconds, so nothing is rounded."""
    doc: dict[str, Any] = {
        "sliding_window_type": config.sliding_window_type.value,
        "sliding_window_size": config.sliding_window_size,
        "minimum_number_of_calls": config.minimum_number_of_calls,
        "failure_rate_threshold": config.failure_rate_threshold,
        "slow_call_rate_threshold": config.slow_call_rate_threshold,
        "wait_duration_multiplier": config.wait_duration_multiplier,
        "permitted_number_of_calls_in_half_open_state": (
            config.permitted_number_of_calls_in_half_open_state
        ),
        "automatic_transition_from_open_to_half_open_enabled": (
            config.automatic_transition_from_open_to_half_open_enabled
        ),
        "transition_to_state_after_wait_duration": (
            config.transition_to_state_after_wait_duration.value
        ),
    }
    for name in _DURATIONS:
        doc[name + "_us"] = getattr(config, name) // timedelta(microseconds=1)
    return doc


def config_of(doc: dict[str, Any]) -> BreakerConfig:
    durations = {name: timedelta(microseconds=doc[name + "_us"]) for name in _DURATIONS}
    return BreakerConfig(
        sliding_window_type=WindowType(doc["sliding_window_type"]),
        sliding_window_size=doc["sliding_window_size"],
        minimum_number_of_calls=doc["minimum_number_of_calls"],
        failure_rate_threshold=doc["failure_rate_threshold"],
        slow_call_rate_threshold=doc["slow_call_rate_threshold"],
        wait_duration_multiplier=doc["wait_duration_multiplier"],
        permitted_number_of_calls_in_half_open_state=doc[
            "permitted_number_of_calls_in_half_open_state"
        ],
        automatic_transition_from_open_to_half_open_enabled=doc[
            "automatic_transition_from_open_to_half_open_enabled"
        ],
        transition_to_state_after_wait_duration=BreakerState(
            doc["transition_to_state_after_wait_duration"]
        ),
        **durations,
    )


def record_of(row: asyncpg.Record) -> BreakerRecord:
    window = row["sliding_window"]
    breaker = Breaker(
        breaker_id=row["breaker_id"],
        tenant_id=row["tenant_id"],
        plugin=row["plugin"],
        version=row["version"],
        config=config_of(json.loads(row["config"])),
        since=row["since"],
        state=BreakerState(row["state"]),
        attempts=row["attempts"],
        window=window_of(None if window is None else json.loads(window)),
        window_minimum=row["window_minimum"],
        not_permitted_calls=row["not_permitted_calls"],
        open_until=row["open_until"],
        half_open_until=row["half_open_until"],
        announced=frozenset(row["announced"]),
        transitions=row["transitions"],
        slo_id=row["slo_id"],
    )
    return BreakerRecord(breaker, created_at=row["created_at"], updated_at=row["updated_at"])


def _window_json(breaker: Breaker) -> str | None:
    return None if breaker.window is None else json.dumps(breaker.window.to_doc())


class PgBreakers:
    """The breakers table, in the unit of work's transaction."""

    def __init__(self, conn: Connection, sink: EventSink) -> None:
        self._conn = conn
        self._sink = sink

    async def add(self, record: BreakerRecord) -> bool:
        b = record.breaker
        inserted = await self._conn.fetchval(
            """INSERT INTO breakers (breaker_id, tenant_id, plugin, version, name, slo_id, config,
                   state, since, attempts, sliding_window, window_minimum, not_permitted_calls,
                   open_until, half_open_until, announced, transitions, due_at, created_at,
                   updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11::jsonb, $12, $13,
                       $14, $15, $16, $17, $18, $19, $20)
               ON CONFLICT (tenant_id, plugin, version) DO NOTHING RETURNING true""",
            b.breaker_id,
            b.tenant_id,
            b.plugin,
            b.version,
            breaker_name(b.plugin, b.version),
            b.slo_id,
            json.dumps(config_json(b.config)),
            b.state.value,
            b.since,
            b.attempts,
            _window_json(b),
            b.window_minimum,
            b.not_permitted_calls,
            b.open_until,
            b.half_open_until,
            sorted(b.announced),
            b.transitions,
            b.due(),
            record.created_at,
            record.updated_at,
        )
        return bool(inserted)

    async def _one(self, where: str, *args: object) -> BreakerRecord | None:
        row = await self._conn.fetchrow(f"SELECT {COLUMNS} FROM breakers WHERE {where}", *args)  # noqa: S608 - constant column list and clauses
        return None if row is None else record_of(row)

    async def get(self, tenant_id: str, breaker_id: str) -> BreakerRecord | None:
        return await self._one("tenant_id = $1 AND breaker_id = $2", tenant_id, breaker_id)

    async def lock(self, tenant_id: str, breaker_id: str) -> BreakerRecord | None:
        return await self._one(
            "tenant_id = $1 AND breaker_id = $2 FOR UPDATE", tenant_id, breaker_id
        )

    async def for_version(
        self, tenant_id: str, plugin: str, version: str, *, lock: bool
    ) -> BreakerRecord | None:
        return await self._one(
            f"tenant_id = $1 AND plugin = $2 AND version = $3 {'FOR UPDATE' if lock else ''}",
            tenant_id,
            plugin,
            version,
        )

    async def page(
        self, tenant_id: str, where: BreakerFilter, *, after: str, limit: int
    ) -> list[BreakerRecord]:
        rows = await self._conn.fetch(
            f"""SELECT {COLUMNS} FROM breakers
                WHERE tenant_id = $1 AND name > $2
                  AND ($3 = '' OR plugin = $3) AND ($4 = '' OR version = $4)
                  AND ($5 = '' OR state = $5)
                ORDER BY name LIMIT $6""",  # noqa: S608 - constant column list
            tenant_id,
            after,
            where.plugin,
            where.version,
            where.state.value if where.state else "",
            limit,
        )
        return [record_of(r) for r in rows]

    async def save(self, record: BreakerRecord, events: Sequence[BreakerEvent]) -> None:
        b = record.breaker
        await self._conn.execute(
            """UPDATE breakers SET config = $2::jsonb, state = $3, since = $4, attempts = $5,
                   sliding_window = $6::jsonb, window_minimum = $7, not_permitted_calls = $8,
                   open_until = $9, half_open_until = $10, announced = $11, transitions = $12,
                   due_at = $13, updated_at = $14
               WHERE breaker_id = $1""",
            b.breaker_id,
            json.dumps(config_json(b.config)),
            b.state.value,
            b.since,
            b.attempts,
            _window_json(b),
            b.window_minimum,
            b.not_permitted_calls,
            b.open_until,
            b.half_open_until,
            sorted(b.announced),
            b.transitions,
            b.due(),
            record.updated_at,
        )
        for event in events:
            await self._sink.emit(breaker_message(event), subject=b.breaker_id)

    async def delete(self, tenant_id: str, breaker_id: str) -> bool:
        deleted = await self._conn.fetchval(
            "DELETE FROM breakers WHERE tenant_id = $1 AND breaker_id = $2 RETURNING true",
            tenant_id,
            breaker_id,
        )
        return bool(deleted)

    async def due(self, now: datetime, limit: int) -> list[BreakerRecord]:
        rows = await self._conn.fetch(
            f"""SELECT {COLUMNS} FROM breakers WHERE due_at <= $1
                ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED""",  # noqa: S608 - constant column list
            now,
            limit,
        )
        return [record_of(r) for r in rows]
