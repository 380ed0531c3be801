"""What a rollback on a violation asks of PostgreSQL, counted on a real database.

The rollback is on the reaction path (violation in, rollout.rolled_back out):
every statement is a round trip the violation waits for. The count is the
budget; what it writes is checked too, so a cheaper rollback is still a
whole one.
"""

from __future__ import annotations

from typing import Any

import pytest

from portico_common.clock import ManualClock
from portico_common.db import ALL_TENANTS, Connection, Database
from portico_rollout.adapters.postgres import RolloutPgUnitOfWork, pg_uow_factory
from portico_rollout.app.handlers import SloViolation, roll_back_on_violation
from portico_rollout.domain.rollout import Rollout
from portico_rollout.domain.state import RolloutState
from portico_rollout.testing.world import T0

pytestmark = pytest.mark.integration

PLUGIN = "@acme/plugin-cost-insights"
# Lock and read the rollout, save it, its decision, the saga's steps (start,
# traffic to stable done), the outbox: six statements.
BUDGET = 6


class CountingConnection:
    """The transaction's connection, counting the statements sent through it."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.statements: list[str] = []

    def _sent(self, query: str) -> None:
        self.statements.append(" ".join(query.split())[:60])

    async def execute(self, query: str, *args: Any) -> str:
        self._sent(query)
        return await self._conn.execute(query, *args)

    async def executemany(self, query: str, args: Any) -> None:
        self._sent(query)
        await self._conn.executemany(query, args)

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        self._sent(query)
        return await self._conn.fetch(query, *args)

    async def fetchrow(self, query: str, *args: Any) -> Any:
        self._sent(query)
        return await self._conn.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        self._sent(query)
        return await self._conn.fetchval(query, *args)


def serving(rollout_id: str) -> Rollout:
    rollout = Rollout.request(
        rollout_id=rollout_id,
        tenant_id="acme",
        plugin=PLUGIN,
        version="2.3.0",
        stable_version="2.2.0",
        bake_seconds=600,
        now=T0,
    )
    rollout.record_security_verdict(True, [], T0)
    rollout.record_compat_verdict(True, [], T0)
    assert rollout.state is RolloutState.IN_PROGRESS
    return rollout


async def test_a_rollback_on_a_violation_stays_within_its_statement_budget(
    rollout_db: Database,
) -> None:
    clock = ManualClock(T0)
    async with pg_uow_factory(rollout_db, clock)("acme") as tx:
        assert await tx.rollouts.add(serving("ro-1"))
    violation = SloViolation(
        tenant_id="acme",
        plugin=PLUGIN,
        version="2.3.0",
        slo_id="slo-1",
        rule="fast burn",
        event_id="ev-1",
        detected_at=T0,
    )
    async with rollout_db.transaction("acme") as conn:
        counting = CountingConnection(conn)
        tx = RolloutPgUnitOfWork(counting, tenant_id="acme", clock=clock)  # type: ignore[arg-type]
        rolled_back = await roll_back_on_violation(tx, violation)
    assert rolled_back is not None
    assert len(counting.statements) <= BUDGET, counting.statements

    async with rollout_db.transaction(ALL_TENANTS) as conn:
        state = await conn.fetchval("SELECT state FROM rollouts WHERE rollout_id = 'ro-1'")
        steps = await conn.fetch(
            "SELECT step, state FROM rollback_steps WHERE rollout_id = 'ro-1' ORDER BY ordinal"
        )
        decisions = await conn.fetchval(
            "SELECT count(*) FROM rollout_decisions WHERE rollout_id = 'ro-1'"
        )
        events = await conn.fetch("SELECT event_type FROM outbox ORDER BY seq")
    assert state == "ROLLED_BACK"
    assert [(s["step"], s["state"]) for s in steps] == [
        ("traffic_to_stable", "done"),
        ("find_dependents", "pending"),
    ]
    assert decisions == 1
    assert [e["event_type"] for e in events] == ["rollout.decision.recorded", "rollout.rolled_back"]
