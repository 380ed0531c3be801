"""Row-level security on the slo tables: forgetting a WHERE clause must not leak a row."""

from __future__ import annotations

import pytest

from portico_common.clock import ManualClock
from portico_common.db import Database, service_role
from portico_slo.adapters.memory import MemoryBurnRates
from portico_slo.adapters.postgres import pg_uow_factory
from portico_slo.app import handlers, templates
from portico_slo.app.validation import ReportedOutcome
from portico_slo.domain.templates import SloSpec, SloTemplate

pytestmark = pytest.mark.integration

TABLES = ("slos", "outcome_buckets", "slo_violations", "slo_templates")


async def test_tenant_tables_force_row_level_security(slo_db: Database) -> None:
    """Every tenant table has row-level security on and forced, and slo's role owns none."""
    rows = await slo_db.pool.fetch(
        """SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                  pg_get_userbyid(c.relowner) AS owner
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'slo' AND c.relname = ANY($1::text[])""",
        list(TABLES),
    )

    assert sorted(r["relname"] for r in rows) == sorted(TABLES)
    assert all(r["relrowsecurity"] and r["relforcerowsecurity"] for r in rows)
    assert all(r["owner"] != service_role("slo") for r in rows)
    assert await slo_db.pool.fetchval("SELECT current_user") == service_role("slo")


async def test_unfiltered_queries_see_one_tenant(slo_db: Database) -> None:
    """SELECT without a WHERE sees only the transaction's tenant; without a tenant, nothing."""
    clock = ManualClock()
    uow = pg_uow_factory(slo_db, clock)
    for tenant in ("acme", "globex"):
        await handlers.create_slo(
            uow, MemoryBurnRates(), tenant_id=tenant, plugin="@x/p", version="1.0.0", objective=0.99
        )
        await handlers.report_outcomes(
            uow,
            MemoryBurnRates(),
            tenant_id=tenant,
            plugin="@x/p",
            version="1.0.0",
            # Failing: the violation is a row too.
            outcomes=[ReportedOutcome(False, 1)] * 20,
        )
        await templates.create_template(
            uow, tenant_id=tenant, template=SloTemplate("strict", SloSpec(objective=0.999))
        )

    seen = {}
    for tenant in ("acme", "globex"):
        async with slo_db.transaction(tenant) as conn:
            seen[tenant] = [
                await conn.fetchval(f"SELECT array_agg(DISTINCT tenant_id) FROM {table}")  # noqa: S608 - constant names
                for table in TABLES
            ]
    async with slo_db.pool.acquire() as conn, conn.transaction():
        forgotten = [await conn.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES]  # noqa: S608 - constant names

    assert seen == {"acme": [["acme"]] * 4, "globex": [["globex"]] * 4}
    assert forgotten == [0, 0, 0, 0]
