"""Row-level security between tenants, and schedulers on several replicas sharing the work."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import asyncpg
import pytest

from portico_common.clock import ManualClock
from portico_common.db import ALL_TENANTS, Database, service_role
from portico_rollout.adapters.postgres import pg_uow_factory
from portico_rollout.adapters.slo_memory import MemorySlo
from portico_rollout.app import controls, handlers
from portico_rollout.app.evaluation import SchedulerLimits, evaluate_due_rollouts
from portico_rollout.app.handlers import RolloutSpec
from portico_rollout.app.ports import UnitOfWorkFactory
from portico_rollout.bootstrap import SERVICE
from portico_rollout.domain.rollout import Rollout
from portico_rollout.domain.verdicts import CheckVerdict
from portico_rollout.testing.world import T0

pytestmark = pytest.mark.integration

PLUGIN = "@acme/plugin-cost-insights"
TABLES = (
    "rollouts",
    "check_verdicts",
    "stable_versions",
    "rollback_steps",
    "rollout_decisions",
    "rollout_audit",
)


def baking(seconds: int) -> RolloutSpec:
    return RolloutSpec(bake_seconds=seconds)


def healthy(slo: MemorySlo, tenant: str, plugin: str, version: str = "1.0.0") -> None:
    """Plenty of good outcomes of the version since T0."""
    slo.report(tenant, plugin, version, T0, good=100, spread=timedelta(seconds=30))


async def rolled_back(uow: UnitOfWorkFactory, clock: ManualClock, tenant: str) -> str:
    """A rollout of `tenant` that started, was paused and rolled back: a row in every table."""
    rollout = await handlers.request_rollout(
        uow, MemorySlo(), tenant, PLUGIN, "2.3.0", spec=baking(1)
    )
    for n, kind in enumerate(("security", "compat")):
        async with uow(tenant) as tx:
            await handlers.record_verdict(
                tx,
                CheckVerdict(tenant, PLUGIN, "2.3.0", kind, True, (), f"{tenant}-{n}", T0),  # type: ignore[arg-type]
            )
    await controls.pause(uow, controls.Control(tenant, rollout.rollout_id, "ops", "look"))
    async with uow(tenant) as tx:
        await tx.stable_versions.set(tenant, "@acme/other", "1.0.0", rollout.rollout_id, T0)
        await handlers.roll_back_on_violation(
            tx,
            handlers.SloViolation(tenant, PLUGIN, "2.3.0", "slo", "rule", f"{tenant}-v", T0),
        )
    return rollout.rollout_id


async def test_a_tenant_transaction_sees_only_its_own_rows(
    rollout_db: Database, new_tenant: Callable[[], str]
) -> None:
    """Tenant A's transaction, even with no WHERE clause, reads none of tenant B's rows."""
    clock = ManualClock(T0)
    uow = pg_uow_factory(rollout_db, clock)
    a, b = new_tenant(), new_tenant()
    await rolled_back(uow, clock, a)
    b_rollout = await rolled_back(uow, clock, b)
    for table in TABLES:
        async with rollout_db.transaction(a) as conn:
            seen = {r["tenant_id"] for r in await conn.fetch(f"SELECT tenant_id FROM {table}")}  # noqa: S608 - fixed names
        assert seen == {a}, table
    async with rollout_db.transaction(a) as conn:
        assert (
            await conn.fetchrow("SELECT 1 FROM rollouts WHERE rollout_id = $1", b_rollout) is None
        )
    with pytest.raises(Exception, match="not found"):
        await handlers.get_rollout(uow, a, b_rollout)


async def test_a_transaction_without_a_tenant_sees_nothing(
    rollout_db: Database, new_tenant: Callable[[], str]
) -> None:
    """As the service's role with app.tenant_id unset, every tenant table reads empty."""
    uow = pg_uow_factory(rollout_db, ManualClock(T0))
    await rolled_back(uow, ManualClock(T0), new_tenant())
    async with rollout_db.pool.acquire() as conn, conn.transaction():
        assert await conn.fetchval("SELECT current_user") == service_role(SERVICE)
        for table in TABLES:
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table  # noqa: S608 - fixed names


async def test_a_tenant_cannot_write_another_tenants_row(
    rollout_db: Database, new_tenant: Callable[[], str]
) -> None:
    """Inserting a row for tenant B inside tenant A's transaction is refused by the policy."""
    a, b = new_tenant(), new_tenant()
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with rollout_db.transaction(a) as conn:
            await conn.execute(
                """INSERT INTO stable_versions (tenant_id, plugin, version, rollout_id, since)
                   VALUES ($1, 'p', '1.0.0', 'r', now())""",
                b,
            )


async def test_concurrent_schedulers_advance_each_rollout_once(
    rollout_db: Database, new_tenant: Callable[[], str]
) -> None:
    """Four schedulers running at once move each of 30 due rollouts exactly one phase, no error."""
    clock = ManualClock(T0)
    uow = pg_uow_factory(rollout_db, clock)
    slo = MemorySlo()
    for n in range(30):
        tenant = new_tenant()
        await handlers.request_rollout(uow, slo, tenant, f"plugin-{n}", "1.0.0", spec=baking(60))
        healthy(slo, tenant, f"plugin-{n}")
        async with uow(tenant) as tx:
            for kind in ("security", "compat"):
                await handlers.record_verdict(
                    tx,
                    CheckVerdict(tenant, f"plugin-{n}", "1.0.0", kind, True, (), kind, T0),
                )
    now = T0 + timedelta(seconds=60)

    async def replica() -> int:
        failed = 0
        while (done := await evaluate_due_rollouts(uow, slo, now, limits=limits)).due > 0:
            failed += done.failed
        return failed

    limits = SchedulerLimits(batch=4, per_tenant=1)
    assert await asyncio.gather(*(replica() for _ in range(4))) == [0, 0, 0, 0]
    async with rollout_db.transaction(ALL_TENANTS) as conn:
        phases = await conn.fetch("SELECT phase_index, revision FROM rollouts")
        advanced = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE event_type = 'rollout.phase.advanced'"
        )
        decided = await conn.fetchval("SELECT count(*) FROM rollout_decisions")
    # Revisions: security verdict 1, compat verdict 2, one advance 3.
    assert {(r["phase_index"], r["revision"]) for r in phases} == {(1, 3)}
    assert (advanced, decided) == (30, 30)


async def test_a_rollout_held_by_another_replica_is_skipped(
    rollout_db: Database, new_tenant: Callable[[], str]
) -> None:
    """While one replica holds a due rollout, another advances the rest without waiting for it."""
    clock = ManualClock(T0)
    uow = pg_uow_factory(rollout_db, clock)
    slo = MemorySlo()
    tenant = new_tenant()
    for plugin in ("held", "free"):
        await handlers.request_rollout(uow, slo, tenant, plugin, "1.0.0", spec=baking(60))
        healthy(slo, tenant, plugin)
        async with uow(tenant) as tx:
            for kind in ("security", "compat"):
                await handlers.record_verdict(
                    tx,
                    CheckVerdict(tenant, plugin, "1.0.0", kind, True, (), plugin + kind, T0),
                )
    now = T0 + timedelta(seconds=60)
    async with rollout_db.transaction(tenant) as holder:
        await holder.execute("SELECT 1 FROM rollouts WHERE plugin = 'held' FOR UPDATE")
        await asyncio.wait_for(evaluate_due_rollouts(uow, slo, now), timeout=5)
        async with rollout_db.transaction(ALL_TENANTS) as conn:
            rows = await conn.fetch("SELECT plugin, phase_index FROM rollouts ORDER BY plugin")
        assert [(r["plugin"], r["phase_index"]) for r in rows] == [("free", 1), ("held", 0)]
    await evaluate_due_rollouts(uow, slo, now)
    async with rollout_db.transaction(ALL_TENANTS) as conn:
        rows = await conn.fetch("SELECT plugin, phase_index FROM rollouts ORDER BY plugin")
    assert [(r["plugin"], r["phase_index"]) for r in rows] == [("free", 1), ("held", 1)]


async def test_request_racing_a_verdict_still_sees_it(
    rollout_db: Database, new_tenant: Callable[[], str]
) -> None:
    """A request made while both verdicts are still uncommitted waits for them and starts."""
    clock = ManualClock(T0)
    uow = pg_uow_factory(rollout_db, clock)
    tenant = new_tenant()
    async with uow(tenant) as tx:
        for kind in ("security", "compat"):
            await handlers.record_verdict(
                tx, CheckVerdict(tenant, PLUGIN, "2.3.0", kind, True, (), kind, T0)
            )
        request = asyncio.create_task(
            handlers.request_rollout(uow, MemorySlo(), tenant, PLUGIN, "2.3.0")
        )
        await asyncio.sleep(0.3)
        assert not request.done()
    rollout = await asyncio.wait_for(request, timeout=5)
    assert rollout.state.value == "IN_PROGRESS"


async def test_verdict_racing_a_request_still_applies(
    rollout_db: Database, new_tenant: Callable[[], str]
) -> None:
    """Verdicts consumed while a request is still uncommitted wait for it, then start it."""
    clock = ManualClock(T0)
    uow = pg_uow_factory(rollout_db, clock)
    tenant = new_tenant()

    async def deliver_both() -> None:
        for kind in ("security", "compat"):
            async with uow(tenant) as tx:
                await handlers.record_verdict(
                    tx,
                    CheckVerdict(tenant, PLUGIN, "2.3.0", kind, True, (), kind, T0),  # type: ignore[arg-type]
                )

    rollout = Rollout.request(
        rollout_id="ro-race", tenant_id=tenant, plugin=PLUGIN, version="2.3.0", now=T0
    )
    async with uow(tenant) as tx:
        # What request_rollout does, held open: lock the plugin, insert the rollout.
        await tx.rollouts.lock_plugin(tenant, PLUGIN)
        assert await tx.rollouts.add(rollout)
        verdicts = asyncio.create_task(deliver_both())
        await asyncio.sleep(0.3)
        assert not verdicts.done()
    await asyncio.wait_for(verdicts, timeout=5)
    stored = await handlers.get_rollout(uow, tenant, "ro-race")
    assert stored.state.value == "IN_PROGRESS"


async def test_a_corrupt_row_never_holds_up_another_tenants_promotion(
    rollout_db: Database, new_tenant: Callable[[], str]
) -> None:
    """A rollout whose stored plan no longer reads is put off; another tenant's advances."""
    clock = ManualClock(T0)
    uow = pg_uow_factory(rollout_db, clock)
    slo = MemorySlo()
    broken, healthy_tenant = new_tenant(), new_tenant()
    for tenant in (broken, healthy_tenant):
        await handlers.request_rollout(uow, slo, tenant, PLUGIN, "1.0.0", spec=baking(60))
        healthy(slo, tenant, PLUGIN)
        async with uow(tenant) as tx:
            for kind in ("security", "compat"):
                await handlers.record_verdict(
                    tx, CheckVerdict(tenant, PLUGIN, "1.0.0", kind, True, (), kind, T0)
                )
    async with rollout_db.transaction(broken) as conn:
        await conn.execute("""UPDATE rollouts SET plan = '[{"percent": "ten"}]'::jsonb""")
    now = T0 + timedelta(seconds=60)
    done = await evaluate_due_rollouts(uow, slo, now, limits=SchedulerLimits(retry_seconds=30))
    assert (done.due, done.failed) == (2, 1)
    async with rollout_db.transaction(ALL_TENANTS) as conn:
        rows = await conn.fetch("SELECT tenant_id, phase_index, due_at FROM rollouts")
    by_tenant = {r["tenant_id"]: r for r in rows}
    assert by_tenant[healthy_tenant]["phase_index"] == 1
    assert by_tenant[broken]["phase_index"] == 0
    # Put off, so the next passes do not keep failing on it.
    assert by_tenant[broken]["due_at"] == now + timedelta(seconds=30)
    assert (await evaluate_due_rollouts(uow, slo, now)).due == 0
