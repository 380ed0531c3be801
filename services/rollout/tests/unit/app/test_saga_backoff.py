"""The saga runner backs a failing step off, and shares each pass fairly among tenants.

Everything runs on the in-memory adapters and a ManualClock: a pass is one
call of the runner, time moves only when the test moves it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from portico.events.v1 import events_pb2 as ev
from portico_rollout.adapters.compat_memory import MemoryDependencyGraph
from portico_rollout.app.saga_limits import SagaLimits
from portico_rollout.domain.saga import SagaStep, StepState
from portico_rollout.domain.state import RolloutState
from portico_rollout.settings import RolloutSettings
from portico_rollout.testing.world import TENANT, RolloutWorld

A, B, C = "@acme/plugin-a", "@acme/plugin-b", "@acme/plugin-c"
NOISY, QUIET = "noisy", "quiet"


async def rolled_back(world: RolloutWorld, tenant: str, plugin: str) -> str:
    """A canary of `plugin` 2.0.0 over 1.0.0, rolled back by a violation: its saga waits."""
    async with world.uow(tenant) as tx:
        await tx.stable_versions.set(tenant, plugin, "1.0.0", f"seed-{plugin}", world.clock.now())
    rollout = await world.request(tenant=tenant, plugin=plugin, version="2.0.0")
    for kind in ("security", "compat"):
        await world.verdict(kind, True, tenant=tenant, plugin=plugin, version="2.0.0")
    event = await world.violation(
        tenant=tenant, plugin=plugin, version="2.0.0", event_id=f"violation-{plugin}"
    )
    assert event is not None
    return rollout.rollout_id


def step(world: RolloutWorld, rollout_id: str, name: str) -> SagaStep:
    return world.store.state.steps[rollout_id, name]


def steps_of(world: RolloutWorld, rollout_id: str) -> list[tuple[str, StepState]]:
    found = [s for s in world.store.state.steps.values() if s.rollout_id == rollout_id]
    return [(s.step, s.state) for s in sorted(found, key=lambda s: s.ordinal)]


def asked_for(graph: MemoryDependencyGraph, tenant: str) -> int:
    return sum(1 for asked, _, _ in graph.asked if asked == tenant)


async def test_a_failing_step_waits_longer_each_time_up_to_the_cap(world: RolloutWorld) -> None:
    """Compat down: each failure is stored with the step, and the step is not tried again
    until its next attempt; the wait doubles (with jitter in its upper half) up to the cap."""
    world.saga_limits = SagaLimits(retry_initial_seconds=1, retry_max_seconds=8)
    rollout_id = await rolled_back(world, TENANT, A)
    world.graph.down.add(TENANT)
    for failures in range(1, 8):
        failed_at = world.clock.now()
        done = await world.run_sagas()
        assert (done.sagas, done.steps, done.failed) == (1, 0, 1)
        find = step(world, rollout_id, "find_dependents")
        assert (find.state, find.failed_attempts) == (StepState.PENDING, failures)
        assert find.last_error.startswith("DependencyGraphUnavailableError: compat could not")
        assert find.next_attempt_at is not None
        full = min(8.0, 2.0 ** (failures - 1))
        wait = (find.next_attempt_at - failed_at).total_seconds()
        assert full / 2 <= wait <= full, (failures, wait)
        # Passes before the next attempt leave the saga alone: compat is not asked.
        world.clock.set(find.next_attempt_at - timedelta(microseconds=1))
        assert (await world.run_sagas()).sagas == 0
        assert asked_for(world.graph, TENANT) == failures
        world.clock.set(find.next_attempt_at)
    world.graph.down.clear()
    done = await world.run_sagas()
    assert (done.sagas, done.failed) == (1, 0)
    find = step(world, rollout_id, "find_dependents")
    # Done, and the record of what it took stays on the row.
    assert (find.state, find.failed_attempts) == (StepState.DONE, 7)
    assert find.detail.startswith("plugins that need")


async def test_security_down_backs_the_dependent_step_off_and_the_next_step_starts_fresh(
    world: RolloutWorld,
) -> None:
    """The safety check cannot ask security: the dependent's step (not the saga) backs off,
    nothing is rolled back unchecked, and once security answers the dependent goes back."""
    a = await rolled_back(world, TENANT, A)
    async with world.uow(TENANT) as tx:
        await tx.stable_versions.set(TENANT, B, "1.0.0", "seed-b", world.clock.now())
    b = (await world.started(plugin=B, version="2.0.0")).rollout_id
    world.graph.needs(B, "2.0.0", on=A, on_version="2.0.0")
    world.advisories.down.add(TENANT)
    done = await world.run_sagas()
    # find_dependents went through; the dependent's step failed on the advisories.
    assert (done.steps, done.failed) == (1, 1)
    assert step(world, a, "find_dependents").failed_attempts == 0
    dependent = step(world, a, f"dependent:{B}@2.0.0")
    assert (dependent.state, dependent.failed_attempts) == (StepState.PENDING, 1)
    assert "security could not list the advisories of" in dependent.last_error
    assert (await world.get(b)).state is RolloutState.IN_PROGRESS
    asked = len(world.advisories.asked)
    assert (await world.run_sagas()).sagas == 0
    assert len(world.advisories.asked) == asked
    world.advisories.down.clear()
    assert dependent.next_attempt_at is not None
    world.clock.set(dependent.next_attempt_at)
    done = await world.run_sagas()
    assert (done.steps, done.failed) == (1, 0)
    assert step(world, a, f"dependent:{B}@2.0.0").state is StepState.DONE
    assert (await world.get(b)).state is RolloutState.ROLLED_BACK
    # B's own saga started with its rollback and is due at once: no backoff carried over.
    assert step(world, b, "find_dependents").next_attempt_at is None
    assert (await world.run_sagas()).steps == 1


async def test_the_backoff_is_kept_in_the_store_so_a_restart_keeps_it(
    world: RolloutWorld,
) -> None:
    """A runner started afresh (a new process over the same tables) honours the backoff."""
    rollout_id = await rolled_back(world, TENANT, A)
    world.graph.fail_next()
    assert (await world.run_sagas()).failed == 1
    restarted = RolloutWorld(world.clock, world.store, world.slo)
    assert (await restarted.run_sagas()).sagas == 0
    assert restarted.graph.asked == []
    next_attempt_at = step(world, rollout_id, "find_dependents").next_attempt_at
    assert next_attempt_at is not None
    world.clock.set(next_attempt_at)
    assert (await restarted.run_sagas()).steps == 1
    assert len(restarted.graph.asked) == 1


async def test_a_tenant_whose_sagas_fail_never_starves_another_tenant(
    world: RolloutWorld,
) -> None:
    """A pass takes sagas in rounds, each tenant's first before anyone's second, at most
    `per_tenant` of one; failed ones back off, so the next passes go to the rest."""
    world.saga_limits = SagaLimits(batch=2, per_tenant=2)
    noisy = [await rolled_back(world, NOISY, f"@noisy/plugin-{i}") for i in range(4)]
    world.clock.advance(seconds=1)
    quiet = await rolled_back(world, QUIET, A)
    world.graph.down.add(NOISY)

    # The oldest sagas are noisy's, yet quiet's goes in the first pass, as its first round.
    done = await world.run_sagas()
    assert (done.sagas, done.steps, done.failed) == (2, 1, 1)
    assert step(world, quiet, "find_dependents").state is StepState.DONE
    assert asked_for(world.graph, NOISY) == 1
    # The next passes take noisy's other sagas, two at most, each failing once.
    done = await world.run_sagas()
    assert (done.sagas, done.failed) == (2, 2)
    done = await world.run_sagas()
    assert (done.sagas, done.failed) == (1, 1)
    assert asked_for(world.graph, NOISY) == 4
    # All of noisy's back off: a pass now has nothing to do, and asks compat nothing.
    assert (await world.run_sagas()).sagas == 0
    assert asked_for(world.graph, NOISY) == 4
    assert {step(world, r, "find_dependents").failed_attempts for r in noisy} == {1}


async def test_a_long_saga_takes_a_bounded_number_of_steps_per_pass(world: RolloutWorld) -> None:
    """A saga with more steps than a pass allows goes on in the next pass, after the others."""
    world.saga_limits = SagaLimits(steps_per_saga=2)
    for plugin in (A, B, C):
        async with world.uow(TENANT) as tx:
            await tx.stable_versions.set(
                TENANT, plugin, "1.0.0", f"seed-{plugin}", world.clock.now()
            )
    a = (await world.started(plugin=A, version="2.0.0")).rollout_id
    for plugin in (B, C):
        await world.started(plugin=plugin, version="2.0.0")
        world.graph.needs(plugin, "2.0.0", on=A, on_version="2.0.0")
    other = await rolled_back(world, QUIET, A)
    await world.violation(plugin=A, version="2.0.0")

    done = await world.run_sagas()
    assert done.steps == 3  # a's find and first dependent; the other tenant's find
    assert steps_of(world, a) == [
        ("traffic_to_stable", StepState.DONE),
        ("find_dependents", StepState.DONE),
        (f"dependent:{B}@2.0.0", StepState.DONE),
        (f"dependent:{C}@2.0.0", StepState.PENDING),
    ]
    assert step(world, other, "find_dependents").state is StepState.DONE
    await world.run_sagas()
    assert step(world, a, f"dependent:{C}@2.0.0").state is StepState.DONE
    assert len(world.events(ev.RolloutRolledBack)) == 4


def test_the_delay_stays_in_the_upper_half_of_the_capped_exponential() -> None:
    """After the n-th failure: between half and all of min(max, initial * 2**(n-1)); jittered."""
    limits = SagaLimits(retry_initial_seconds=0.5, retry_max_seconds=30)
    for failures in (1, 2, 3, 5, 7, 8, 20, 10_000):
        full = min(30.0, 0.5 * 2.0 ** min(failures - 1, 64))
        waits = [limits.retry_delay(failures).total_seconds() for _ in range(50)]
        assert all(full / 2 <= w <= full for w in waits), (failures, min(waits), max(waits))
        assert len(set(waits)) > 1, "the wait is jittered"


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"retry_initial_seconds": 10, "retry_max_seconds": 5}, "retry_initial_seconds"),
        ({"retry_initial_seconds": 0}, "retry_initial_seconds"),
        ({"per_tenant": 0}, "per_tenant"),
    ],
)
def test_limits_that_cannot_work_are_refused(changes: dict[str, float], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        SagaLimits(**changes)  # type: ignore[arg-type]


def test_settings_refuse_a_cap_below_the_first_wait() -> None:
    with pytest.raises(ValidationError, match="PORTICO_ROLLOUT_SAGA_RETRY_MAX_SECONDS"):
        RolloutSettings(rollout_saga_retry_initial_seconds=5, rollout_saga_retry_max_seconds=1)
