"""slo's platform jobs reach tenants in every tier: pool, bridge schema, silo database.

A scan with ALL_TENANTS sees the shared tables only; the evaluator, the
breakers' tick and the pruning pass over every place (`each_place`), and each
tenant's rows stay in its place.
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from portico_common.clock import ManualClock
from portico_common.db import Database, Tier, database_url
from portico_common.places import each_place
from portico_embedded.testing.databases import placed_tenants
from portico_embedded.testing.fixtures import unique_tenant
from portico_slo.adapters.memory import MemoryBurnRates
from portico_slo.adapters.postgres import pg_uow_factory
from portico_slo.app import breakers, handlers
from portico_slo.app.evaluation import Tick
from portico_slo.app.validation import ReportedOutcome
from portico_slo.bootstrap import MIGRATIONS, SERVICE

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


async def _tenants_in(admin_url: str, database: str, schema: str, table: str) -> list[str]:
    conn = await asyncpg.connect(database_url(admin_url, database))
    try:
        rows = await conn.fetch(f"SELECT DISTINCT tenant_id FROM {schema}.{table} ORDER BY 1")  # noqa: S608 - test names
    finally:
        await conn.close()
    return [r["tenant_id"] for r in rows]


async def test_the_evaluator_judges_slos_of_bridge_and_silo_tenants(
    slo_db: Database, database_url: str
) -> None:
    """Each tier's SLO is evaluated by the pass over every place (one by a shared-only scan),
    its violation and buckets stay in its place, and the breakers' tick and pruning run there."""
    tiers = {unique_tenant(): tier for tier in Tier}
    pool, bridge, silo = tiers
    async with placed_tenants(database_url, {SERVICE: MIGRATIONS}, tiers) as placed:
        clock = ManualClock(T0)
        uow = pg_uow_factory(slo_db, clock)
        reported = MemoryBurnRates()
        slo_ids = {}
        for tenant in tiers:
            slo = await handlers.create_slo(
                uow, reported, tenant_id=tenant, plugin="@x/p", version="1.0.0", objective=0.99
            )
            slo_ids[tenant] = slo.definition.slo_id
            await handlers.report_outcomes(
                uow,
                reported,
                tenant_id=tenant,
                plugin="@x/p",
                version="1.0.0",
                outcomes=[ReportedOutcome(False, 1)] * 20,
            )

        gauge = MemoryBurnRates()
        assert await handlers.refresh_burn_rates(uow, gauge) == Tick(1, 1)
        assert set(gauge.values) == {slo_ids[pool]}
        gauge = MemoryBurnRates()
        assert (
            await each_place(slo_db.places, lambda: handlers.refresh_burn_rates(uow, gauge))
            == [Tick(1, 1)] * 3
        )
        assert set(gauge.values) == set(slo_ids.values())
        assert all(short > 1 for short, _ in gauge.values.values())

        # Hours later, with no traffic, every place's windows are empty: burns fall to 0.
        clock.advance(days=2)
        await each_place(slo_db.places, lambda: handlers.refresh_burn_rates(uow, gauge))
        assert gauge.values == dict.fromkeys(slo_ids.values(), (0.0, 0.0))
        assert await each_place(slo_db.places, lambda: breakers.tick_breakers(uow)) == [0, 0, 0]
        pruned = await each_place(slo_db.places, lambda: handlers.prune_buckets(uow))
        assert len(pruned) == 3

        main = database_url.rpartition("/")[2]
        assert await _tenants_in(database_url, main, SERVICE, "slo_violations") == [pool]
        assert await _tenants_in(database_url, main, placed[bridge].location, "slo_violations") == [
            bridge
        ]
        assert await _tenants_in(
            database_url, placed[silo].location, SERVICE, "slo_violations"
        ) == [silo]
        assert await _tenants_in(database_url, main, SERVICE, "slos") == [pool]
