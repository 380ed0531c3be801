"""Rollout's platform jobs reach tenants in every tier: pool, bridge schema, silo database.

A scan with ALL_TENANTS sees the shared tables only; the scheduler and the
saga runner pass over every place (`each_place`), and each tenant's rows
stay in its place.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import asyncpg
import pytest

from portico_common.clock import ManualClock
from portico_common.db import Database, Tier, database_url
from portico_common.places import each_place
from portico_embedded.testing.databases import placed_tenants
from portico_rollout.adapters.compat_memory import MemoryDependencyGraph
from portico_rollout.adapters.postgres import pg_uow_factory
from portico_rollout.adapters.slo_memory import MemorySlo
from portico_rollout.app import handlers
from portico_rollout.app.dependents import advance_sagas
from portico_rollout.app.evaluation import evaluate_due_rollouts
from portico_rollout.bootstrap import MIGRATIONS, SERVICE
from portico_rollout.domain.verdicts import CheckVerdict
from portico_rollout.testing.world import T0

pytestmark = pytest.mark.integration

PLUGIN = "@acme/plugin-cost-insights"


async def _rows(admin_url: str, database: str, schema: str, sql: str) -> list[tuple[str, str]]:
    conn = await asyncpg.connect(database_url(admin_url, database))
    try:
        await conn.execute(f"SET search_path TO {schema}")
        return [tuple(r) for r in await conn.fetch(sql)]
    finally:
        await conn.close()


async def test_the_scheduler_and_the_saga_runner_reach_bridge_and_silo_tenants(
    rollout_db: Database, database_url: str, new_tenant: Callable[[], str]
) -> None:
    """Due rollouts advance and rollback sagas finish for a pool, a bridge and a silo tenant,
    each in its own place; a scan of the shared tables alone would have seen the pool's only."""
    tiers = {new_tenant(): tier for tier in Tier}
    pool, bridge, silo = tiers
    async with placed_tenants(database_url, {SERVICE: MIGRATIONS}, tiers) as placed:
        clock = ManualClock(T0)
        uow = pg_uow_factory(rollout_db, clock)
        slo = MemorySlo()
        for tenant in tiers:
            await handlers.request_rollout(
                uow, slo, tenant, PLUGIN, "2.0.0", spec=handlers.RolloutSpec(bake_seconds=60)
            )
            slo.report(tenant, PLUGIN, "2.0.0", T0, good=100, spread=timedelta(seconds=30))
            async with uow(tenant) as tx:
                for kind in ("security", "compat"):
                    await handlers.record_verdict(
                        tx, CheckVerdict(tenant, PLUGIN, "2.0.0", kind, True, (), kind, T0)
                    )
        now = T0 + timedelta(seconds=60)

        shared_only = await evaluate_due_rollouts(uow, slo, now)
        assert shared_only.due == 1
        passes = await each_place(rollout_db.places, lambda: evaluate_due_rollouts(uow, slo, now))
        # The pool's rollout was advanced above; the bridge's and the silo's now.
        assert [(p.due, p.failed) for p in passes] == [(0, 0), (1, 0), (1, 0)]

        for tenant in tiers:
            async with uow(tenant) as tx:
                rolled = await handlers.roll_back_on_violation(
                    tx,
                    handlers.SloViolation(
                        tenant, PLUGIN, "2.0.0", "slo", "burn", f"{tenant}-v", now
                    ),
                )
            assert rolled is not None, tenant
        graph = MemoryDependencyGraph()
        sagas = await each_place(rollout_db.places, lambda: advance_sagas(uow, graph, now))
        assert [(s.sagas, s.failed) for s in sagas] == [(1, 0), (1, 0), (1, 0)]
        assert [
            s.sagas
            for s in await each_place(rollout_db.places, lambda: advance_sagas(uow, graph, now))
        ] == [0, 0, 0]

        # Each tenant's rows are physically in its place, and only there.
        main = database_url.rpartition("/")[2]
        sql = "SELECT DISTINCT tenant_id, state FROM rollouts ORDER BY 1"
        assert await _rows(database_url, main, SERVICE, sql) == [(pool, "ROLLED_BACK")]
        assert await _rows(database_url, main, placed[bridge].location, sql) == [
            (bridge, "ROLLED_BACK")
        ]
        assert await _rows(database_url, placed[silo].location, SERVICE, sql) == [
            (silo, "ROLLED_BACK")
        ]
        steps = "SELECT DISTINCT tenant_id, state FROM rollback_steps ORDER BY 1"
        assert await _rows(database_url, placed[silo].location, SERVICE, steps) == [(silo, "done")]
        assert await _rows(database_url, main, SERVICE, steps) == [(pool, "done")]
