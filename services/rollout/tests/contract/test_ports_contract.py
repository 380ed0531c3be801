"""What every adapter of rollout's ports must do, checked on the in-memory and the Pg adapter."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg
import pytest

from portico_common.clock import ManualClock
from portico_common.memory_uow import RowLevelSecurityError
from portico_common.tenants import ALL_TENANTS
from portico_rollout.app.ports import RolloutUnitOfWork
from portico_rollout.domain.rollout import Rollout
from portico_rollout.domain.saga import ROLLBACK_STEPS, StepState
from portico_rollout.domain.state import RolloutState
from portico_rollout.domain.verdicts import CheckVerdict
from portico_rollout.errors import RolloutConflictError
from portico_rollout.testing.world import T0, Backend

PLUGIN = "@acme/plugin-cost-insights"


def new(rollout_id: str, tenant: str = "acme", plugin: str = PLUGIN, bake: int = 600) -> Rollout:
    return Rollout.request(
        rollout_id=rollout_id,
        tenant_id=tenant,
        plugin=plugin,
        version="2.3.0",
        stable_version="2.2.0",
        bake_seconds=bake,
        now=T0,
    )


def started(rollout_id: str, tenant: str = "acme", plugin: str = PLUGIN) -> Rollout:
    rollout = new(rollout_id, tenant, plugin)
    rollout.record_security_verdict(True, [], T0)
    rollout.record_compat_verdict(True, [], T0)
    return rollout


async def load(tx: RolloutUnitOfWork, rollout_id: str, tenant: str = "acme") -> Rollout:
    found = await tx.rollouts.get(tenant, rollout_id)
    assert found is not None, rollout_id
    return found


async def test_rollout_round_trips(backend: Backend) -> None:
    """A stored rollout reads back equal, history and all, at revision 0."""
    rollout = started("ro-1")
    async with backend.uow("acme") as tx:
        assert await tx.rollouts.add(rollout)
    async with backend.uow("acme") as tx:
        assert await tx.rollouts.get("acme", "ro-1") == rollout
        assert await tx.rollouts.active_for("acme", PLUGIN, lock=True) == rollout


async def test_one_unfinished_rollout_per_plugin(backend: Backend) -> None:
    """A second unfinished rollout of a plugin is not added; a finished one is history."""
    async with backend.uow("acme") as tx:
        assert await tx.rollouts.add(new("ro-1"))
        assert not await tx.rollouts.add(new("ro-2"))
        assert await tx.rollouts.add(new("ro-3", plugin="other"))
        assert await tx.rollouts.add(new("ro-4", tenant="acme", plugin="third"))
        assert not await tx.rollouts.add(new("ro-1", plugin="fourth"))


async def test_stale_save_conflicts(backend: Backend) -> None:
    """Saving bumps the revision; saving a copy loaded before that raises RolloutConflictError."""
    async with backend.uow("acme") as tx:
        await tx.rollouts.add(new("ro-1"))
    async with backend.uow("acme") as tx:
        first = await load(tx, "ro-1")
        stale = await load(tx, "ro-1")
        first.record_security_verdict(True, [], T0)
        await tx.rollouts.save(first)
        assert first.revision == 1
        stale.record_compat_verdict(True, [], T0)
        with pytest.raises(RolloutConflictError):
            await tx.rollouts.save(stale)
    async with backend.uow("acme") as tx:
        stored = await load(tx, "ro-1")
    assert (stored.revision, stored.security_passed, stored.compat_passed) == (1, True, None)


async def test_due_lists_only_baked_phases(backend: Backend) -> None:
    """Only rollouts in progress whose bake is over are due, oldest first, up to the limit."""
    async with backend.uow("acme") as tx:
        await tx.rollouts.add(started("ro-a", plugin="a"))
        await tx.rollouts.add(new("ro-b", plugin="b"))
        later = started("ro-c", plugin="c")
        later.phase_started_at = T0 + timedelta(seconds=30)
        await tx.rollouts.add(later)
    async with backend.uow(ALL_TENANTS) as tx:
        assert await tx.rollouts.due(T0 + timedelta(seconds=599), 10, 10) == []
        due = await tx.rollouts.due(T0 + timedelta(hours=1), 10, 10)
        assert due == [("acme", "ro-a"), ("acme", "ro-c")]
        assert len(await tx.rollouts.due(T0 + timedelta(hours=1), 1, 10)) == 1


async def test_a_paused_tenants_rollouts_are_not_due(backend: Backend) -> None:
    """Pausing a tenant takes its rollouts out of `due`; unpausing puts them back."""
    async with backend.uow("acme") as tx:
        await tx.rollouts.add(started("ro-a", plugin="a"))
        await tx.paused_tenants.pause("acme", "suspended", T0)
        assert await tx.paused_tenants.is_paused("acme")
    async with backend.uow("beta") as tx:
        await tx.rollouts.add(started("ro-b", tenant="beta", plugin="b"))
    async with backend.uow(ALL_TENANTS) as tx:
        due = await tx.rollouts.due(T0 + timedelta(hours=1), 10, 10)
        assert [rollout_id for _, rollout_id in due] == ["ro-b"]
    async with backend.uow("acme") as tx:
        await tx.paused_tenants.unpause("acme")
    async with backend.uow(ALL_TENANTS) as tx:
        due = await tx.rollouts.due(T0 + timedelta(hours=1), 10, 10)
        assert sorted(rollout_id for _, rollout_id in due) == ["ro-a", "ro-b"]


async def test_tenants_do_not_see_each_other(backend: Backend) -> None:
    """A tenant's unit of work cannot read another tenant's rows; the platform scope can."""
    async with backend.uow("acme") as tx:
        await tx.rollouts.add(started("ro-a"))
    async with backend.uow("globex") as tx:
        assert await tx.rollouts.get("acme", "ro-a") is None
        assert await tx.rollouts.active_for("acme", PLUGIN) is None
        assert await tx.rollouts.due(T0 + timedelta(hours=1), 10, 10) == []
    async with backend.uow(ALL_TENANTS) as tx:
        assert await tx.rollouts.get("acme", "ro-a") is not None


async def test_verdicts_are_kept_once_in_order(backend: Backend) -> None:
    """A verdict's event is recorded once; verdicts list in the order recorded, per version."""

    def verdict(event_id: str, version: str = "2.3.0") -> CheckVerdict:
        return CheckVerdict("acme", PLUGIN, version, "security", True, ("a", "b"), event_id, T0)

    async with backend.uow("acme") as tx:
        assert await tx.verdicts.add(verdict("e-2"))
        assert await tx.verdicts.add(verdict("e-1"))
        assert not await tx.verdicts.add(verdict("e-2"))
        assert await tx.verdicts.add(verdict("e-3", version="9.0.0"))
    async with backend.uow("acme") as tx:
        found = await tx.verdicts.for_version("acme", PLUGIN, "2.3.0")
    assert [v.event_id for v in found] == ["e-2", "e-1"]
    assert found[0] == verdict("e-2")


async def test_stable_version_upserts(backend: Backend) -> None:
    """The stable version is "" until set, then the last one set."""
    async with backend.uow("acme") as tx:
        assert await tx.stable_versions.get("acme", PLUGIN) == ""
        await tx.stable_versions.set("acme", PLUGIN, "1.0.0", "ro-1", T0)
        await tx.stable_versions.set("acme", PLUGIN, "2.0.0", "ro-2", T0)
    async with backend.uow("acme") as tx:
        assert await tx.stable_versions.get("acme", PLUGIN) == "2.0.0"


async def test_saga_steps_start_once_and_complete_once(backend: Backend) -> None:
    """Starting the saga twice keeps one row per step; completing twice keeps the first detail."""
    rollout = started("ro-1")
    later = T0 + timedelta(minutes=1)
    async with backend.uow("acme") as tx:
        await tx.rollouts.add(rollout)
        steps = await tx.rollback_steps.start("acme", "ro-1", ROLLBACK_STEPS, T0)
        assert [(s.step, s.ordinal, s.state) for s in steps] == [
            ("traffic_to_stable", 0, StepState.PENDING),
            ("find_dependents", 1, StepState.PENDING),
        ]
        # Never tried yet: no failure, due at once.
        assert {(s.failed_attempts, s.next_attempt_at, s.last_error) for s in steps} == {
            (0, None, "")
        }
        await tx.rollback_steps.complete("acme", "ro-1", "traffic_to_stable", "first", later)
        await tx.rollback_steps.complete("acme", "ro-1", "traffic_to_stable", "second", T0)
        again = await tx.rollback_steps.start("acme", "ro-1", ROLLBACK_STEPS, later)
    assert (again[0].state, again[0].detail, again[0].at) == (StepState.DONE, "first", later)
    assert (again[1].state, again[1].at) == (StepState.PENDING, T0)


async def saga(backend: Backend, tenant: str, rollout_id: str, at: datetime) -> None:
    """A saga whose traffic step is done: `find_dependents` (started at `at`) is next."""
    async with backend.uow(tenant) as tx:
        await tx.rollouts.add(started(rollout_id, tenant, plugin=f"@{tenant}/{rollout_id}"))
        await tx.rollback_steps.start(tenant, rollout_id, ROLLBACK_STEPS, at)
        await tx.rollback_steps.complete(tenant, rollout_id, "traffic_to_stable", "back", at)


async def test_due_sagas_are_listed_oldest_first_across_tenants(backend: Backend) -> None:
    """Sagas with a step not done are due across tenants, the oldest first, up to the limit;
    a tenant's own transaction sees only its own."""
    later = T0 + timedelta(minutes=1)
    await saga(backend, "acme", "ro-1", later)
    await saga(backend, "globex", "ro-2", T0)
    async with backend.uow(ALL_TENANTS) as tx:
        assert await tx.rollback_steps.due(later, 10, 10) == [("globex", "ro-2"), ("acme", "ro-1")]
        assert await tx.rollback_steps.due(later, 1, 10) == [("globex", "ro-2")]
    async with backend.uow("globex") as tx:
        await tx.rollback_steps.complete("globex", "ro-2", "find_dependents", "none", later)
    async with backend.uow(ALL_TENANTS) as tx:
        assert await tx.rollback_steps.due(later, 10, 10) == [("acme", "ro-1")]
    async with backend.uow("globex") as tx:
        assert await tx.rollback_steps.due(later, 10, 10) == []


async def test_a_failure_is_recorded_once_and_keeps_the_saga_off_until_its_next_attempt(
    backend: Backend,
) -> None:
    """record_failure counts the step's failures (a stale count writes nothing); the saga is
    not due before its next attempt; completing the step keeps the count."""
    retry = T0 + timedelta(seconds=30)
    await saga(backend, "acme", "ro-1", T0)
    async with backend.uow("acme") as tx:
        recorded = await tx.rollback_steps.record_failure(
            "acme",
            "ro-1",
            "find_dependents",
            failed_attempts=1,
            next_attempt_at=retry,
            error="compat down",
        )
        assert recorded
        # A second replica that read the same count records nothing.
        assert not await tx.rollback_steps.record_failure(
            "acme",
            "ro-1",
            "find_dependents",
            failed_attempts=1,
            next_attempt_at=retry + timedelta(hours=1),
            error="again",
        )
        [_, find] = await tx.rollback_steps.for_rollout("acme", "ro-1")
    assert (find.state, find.failed_attempts, find.next_attempt_at, find.last_error) == (
        StepState.PENDING,
        1,
        retry,
        "compat down",
    )
    async with backend.uow(ALL_TENANTS) as tx:
        assert await tx.rollback_steps.due(retry - timedelta(microseconds=1), 10, 10) == []
        assert await tx.rollback_steps.due(retry, 10, 10) == [("acme", "ro-1")]
    async with backend.uow("acme") as tx:
        await tx.rollback_steps.complete("acme", "ro-1", "find_dependents", "none", retry)
        # A done step takes no failure.
        assert not await tx.rollback_steps.record_failure(
            "acme",
            "ro-1",
            "find_dependents",
            failed_attempts=2,
            next_attempt_at=retry,
            error="late",
        )
        [_, find] = await tx.rollback_steps.for_rollout("acme", "ro-1")
    assert (find.state, find.failed_attempts, find.last_error) == (
        StepState.DONE,
        1,
        "compat down",
    )
    async with backend.uow(ALL_TENANTS) as tx:
        assert await tx.rollback_steps.due(retry, 10, 10) == []


async def test_another_tenant_cannot_record_a_failure(backend: Backend) -> None:
    """Another tenant's transaction changes nothing (refused in memory, filtered by RLS)."""
    await saga(backend, "acme", "ro-1", T0)
    async with backend.uow("globex") as tx:
        try:
            recorded = await tx.rollback_steps.record_failure(
                "acme",
                "ro-1",
                "find_dependents",
                failed_attempts=1,
                next_attempt_at=T0,
                error="x",
            )
        except RowLevelSecurityError:
            recorded = False
    assert not recorded
    async with backend.uow("acme") as tx:
        [_, find] = await tx.rollback_steps.for_rollout("acme", "ro-1")
    assert (find.failed_attempts, find.next_attempt_at) == (0, None)


async def test_a_saga_is_due_by_its_next_step_only(backend: Backend) -> None:
    """A later step that never failed does not make a backing-off saga due."""
    await saga(backend, "acme", "ro-1", T0)
    async with backend.uow("acme") as tx:
        await tx.rollback_steps.start(
            "acme", "ro-1", (*ROLLBACK_STEPS, "dependent:@acme/b@1.0.0"), T0
        )
        await tx.rollback_steps.complete("acme", "ro-1", "find_dependents", "b", T0)
        assert await tx.rollback_steps.record_failure(
            "acme",
            "ro-1",
            "dependent:@acme/b@1.0.0",
            failed_attempts=1,
            next_attempt_at=T0 + timedelta(minutes=1),
            error="security down",
        )
        await tx.rollback_steps.start(
            "acme",
            "ro-1",
            (*ROLLBACK_STEPS, "dependent:@acme/b@1.0.0", "dependent:@acme/c@1.0.0"),
            T0,
        )
    async with backend.uow(ALL_TENANTS) as tx:
        assert await tx.rollback_steps.due(T0 + timedelta(seconds=59), 10, 10) == []
        assert await tx.rollback_steps.due(T0 + timedelta(minutes=1), 10, 10) == [("acme", "ro-1")]


async def test_due_sagas_come_in_rounds_at_most_per_tenant_each(backend: Backend) -> None:
    """Each tenant's first saga (by the time it became due) before any tenant's second, then
    the seconds, ...; at most `per_tenant` of one tenant; a backed-off saga counts from its
    next attempt, one that never failed from its step's start."""
    at = [T0 + timedelta(seconds=n) for n in range(6)]
    for n, rollout_id in enumerate(("a-1", "a-2", "a-3", "a-4")):
        await saga(backend, "acme", rollout_id, at[n])
    await saga(backend, "globex", "g-1", at[4])
    await saga(backend, "globex", "g-2", at[5])
    async with backend.uow("acme") as tx:
        # a-1 failed and waits until after g-1 became due: it now sorts after a-2.
        assert await tx.rollback_steps.record_failure(
            "acme",
            "a-1",
            "find_dependents",
            failed_attempts=1,
            next_attempt_at=at[5],
            error="compat down",
        )
    async with backend.uow(ALL_TENANTS) as tx:
        now = at[5]
        assert await tx.rollback_steps.due(now, 10, 10) == [
            ("acme", "a-2"),
            ("globex", "g-1"),
            ("acme", "a-3"),
            ("globex", "g-2"),
            ("acme", "a-4"),
            ("acme", "a-1"),
        ]
        assert await tx.rollback_steps.due(now, 10, 3) == [
            ("acme", "a-2"),
            ("globex", "g-1"),
            ("acme", "a-3"),
            ("globex", "g-2"),
            ("acme", "a-4"),
        ]
        assert await tx.rollback_steps.due(now, 3, 3) == [
            ("acme", "a-2"),
            ("globex", "g-1"),
            ("acme", "a-3"),
        ]
        assert await tx.rollback_steps.due(now, 10, 1) == [("acme", "a-2"), ("globex", "g-1")]
        # Before a-1's next attempt it is not due; a step that never failed always is.
        assert ("acme", "a-1") not in await tx.rollback_steps.due(at[4], 10, 10)
        assert await tx.rollback_steps.due(at[0], 10, 10) == [
            ("acme", "a-2"),
            ("globex", "g-1"),
            ("acme", "a-3"),
            ("globex", "g-2"),
            ("acme", "a-4"),
        ]


async def test_every_stable_version_of_a_tenant(backend: Backend) -> None:
    """`all` lists the tenant's plugins with their stable version, and no other tenant's."""
    async with backend.uow("acme") as tx:
        await tx.stable_versions.set("acme", PLUGIN, "2.2.0", "ro-1", T0)
        await tx.stable_versions.set("acme", "@acme/other", "1.0.0", "ro-2", T0)
    async with backend.uow("globex") as tx:
        await tx.stable_versions.set("globex", PLUGIN, "9.0.0", "ro-3", T0)
    async with backend.uow("acme") as tx:
        assert await tx.stable_versions.all("acme") == {PLUGIN: "2.2.0", "@acme/other": "1.0.0"}
        assert await tx.stable_versions.made_by("acme", PLUGIN) == ("2.2.0", "ro-1")
        assert await tx.stable_versions.made_by("acme", "@acme/none") is None


async def test_serving_lists_what_each_serving_rollout_puts_in_front_of_users(
    backend: Backend,
) -> None:
    """In-progress and paused rollouts of the tenant, by plugin; none awaiting checks or
    another tenant's."""
    paused = started("ro-2", plugin="@acme/b")
    assert paused.pause(T0, actor="operator", reason="a look at the numbers")
    async with backend.uow("acme") as tx:
        assert await tx.rollouts.add(started("ro-1", plugin="@acme/c"))
        assert await tx.rollouts.add(paused)
        assert await tx.rollouts.add(new("ro-3", plugin="@acme/a"))
    async with backend.uow("globex") as tx:
        assert await tx.rollouts.add(started("ro-4", tenant="globex", plugin="@acme/a"))
    async with backend.uow("acme") as tx:
        assert await tx.rollouts.serving("acme") == [
            ("@acme/b", "2.3.0", "2.2.0"),
            ("@acme/c", "2.3.0", "2.2.0"),
        ]


async def test_events_commit_with_the_transaction(backend: Backend, clock: ManualClock) -> None:
    """Published events are committed with the state, and vanish with it on an error."""
    rollout = new("ro-1")
    events = rollout.record_security_verdict(False, ["bad"], clock.now())

    async def fail_after_publishing() -> None:
        async with backend.uow("acme") as tx:
            await tx.rollouts.add(rollout)
            await tx.publish(events)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await fail_after_publishing()
    assert await backend.committed_events() == []
    async with backend.uow("acme") as tx:
        assert await tx.rollouts.get("acme", "ro-1") is None
        await tx.rollouts.add(rollout)
        await tx.publish(events)
    assert await backend.committed_events() == ["rollout.refused"]
    async with backend.uow("acme") as tx:
        stored = await load(tx, "ro-1")
    assert stored.state is RolloutState.REFUSED


async def test_rows_of_another_tenant_are_refused(backend: Backend) -> None:
    """A tenant's unit of work cannot write another tenant's rollout (row-level security)."""
    with pytest.raises((RowLevelSecurityError, asyncpg.InsufficientPrivilegeError)):
        async with backend.uow("globex") as tx:
            await tx.rollouts.add(new("ro-1", tenant="acme"))
    async with backend.uow("acme") as tx:
        assert await tx.rollouts.get("acme", "ro-1") is None
