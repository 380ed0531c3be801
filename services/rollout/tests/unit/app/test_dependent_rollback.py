"""The rollback saga after traffic: the installed plugins that need the version go back too."""

from __future__ import annotations

from portico.events.v1 import events_pb2 as ev
from portico_rollout.app.dependents import advance_sagas
from portico_rollout.domain.decisions import DecisionSource
from portico_rollout.domain.saga import StepState
from portico_rollout.domain.state import RolloutState
from portico_rollout.testing.world import TENANT, RolloutWorld

A, B, C = "@acme/plugin-a", "@acme/plugin-b", "@acme/plugin-c"


async def installed(world: RolloutWorld, plugin: str, version: str) -> None:
    """Makes `version` the plugin's stable version the way a completed rollout does."""
    async with world.uow(TENANT) as tx:
        await tx.stable_versions.set(TENANT, plugin, version, f"seed-{plugin}", world.clock.now())


async def completed(world: RolloutWorld, plugin: str, version: str) -> str:
    """A one-phase rollout of the version, baked and completed; its id."""
    rollout = await world.request(plugin=plugin, version=version, phases=(100,))
    await world.verdict("security", True, plugin=plugin, version=version)
    await world.verdict("compat", True, plugin=plugin, version=version)
    await world.tick(seconds=600)
    assert (await world.get(rollout.rollout_id)).state is RolloutState.COMPLETED
    return rollout.rollout_id


def steps_of(world: RolloutWorld, rollout_id: str) -> list[tuple[str, StepState]]:
    found = [s for (rid, _), s in world.store.state.steps.items() if rid == rollout_id]
    return [(s.step, s.state) for s in sorted(found, key=lambda s: s.ordinal)]


async def chain(world: RolloutWorld) -> tuple[str, str, str]:
    """A 1 -> 2 and B 1 -> 2 in canary (B 2 needs A 2); C 1.1 completed and needs B 2."""
    for plugin in (A, B, C):
        await installed(world, plugin, "1.0.0")
    a = await world.started(plugin=A, version="2.0.0")
    b = await world.started(plugin=B, version="2.0.0")
    c = await completed(world, C, "1.1.0")
    world.graph.needs(B, "2.0.0", on=A, on_version="2.0.0", depth=1)
    world.graph.needs(C, "1.1.0", on=A, on_version="2.0.0", depth=2)
    return a.rollout_id, b.rollout_id, c


async def test_a_violation_rolls_back_the_chain_deepest_first(world: RolloutWorld) -> None:
    """A goes back with its decision; then C (needs B 2) and B (needs A 2), each with its event."""
    a, b, c = await chain(world)
    await world.violation(plugin=A, version="2.0.0")
    # Traffic first, in the decision's transaction; the dependents wait for the runner.
    assert steps_of(world, a) == [
        ("traffic_to_stable", StepState.DONE),
        ("find_dependents", StepState.PENDING),
    ]
    assert [e.rollout_id for e in world.events(ev.RolloutRolledBack)] == [a]

    await world.run_sagas()

    assert steps_of(world, a) == [
        ("traffic_to_stable", StepState.DONE),
        ("find_dependents", StepState.DONE),
        (f"dependent:{C}@1.1.0", StepState.DONE),
        (f"dependent:{B}@2.0.0", StepState.DONE),
    ]
    rolled_back = world.events(ev.RolloutRolledBack)
    assert [(e.rollout_id, e.cause_rollout_id) for e in rolled_back] == [(a, ""), (c, a), (b, a)]
    assert [e.after_completion for e in rolled_back] == [False, True, False]
    assert [e.stable_version for e in rolled_back] == ["1.0.0", "1.0.0", "1.0.0"]
    for rollout_id in (a, b, c):
        assert (await world.get(rollout_id)).state is RolloutState.ROLLED_BACK
    async with world.uow(TENANT) as tx:
        assert await tx.stable_versions.all(TENANT) == {A: "1.0.0", B: "1.0.0", C: "1.0.0"}
        [decision] = await tx.decisions.latest(TENANT, b, 1)
    assert decision.source is DecisionSource.DEPENDENCY
    assert decision.evidence["dependency"] == {"needs": f"{A}@2.0.0", "rollout_id": a}
    # Everyone resolves to the stable versions again.
    for plugin in (A, B, C):
        answer = await world.resolve("user-7", plugin=plugin)
        assert answer.version == "1.0.0"


async def test_compat_is_asked_with_what_the_tenant_runs(world: RolloutWorld) -> None:
    """The question names the version going away and each installed plugin with its previous."""
    a, _, _ = await chain(world)
    await world.violation(plugin=A, version="2.0.0")
    await world.run_sagas()
    [(tenant, going, running), *_] = world.graph.asked
    assert tenant == TENANT
    assert (going.plugin, going.version, going.previous_version) == (A, "2.0.0", "1.0.0")
    assert {(p.plugin, p.version, p.previous_version) for p in running} == {
        (A, "1.0.0", ""),  # rolled back already: its stable version
        (B, "2.0.0", "1.0.0"),
        (C, "1.1.0", "1.0.0"),
    }
    assert a


async def test_the_saga_runs_each_step_once(world: RolloutWorld) -> None:
    """Passes after the saga ended, and a repeated violation, change nothing and emit nothing."""
    await chain(world)
    await world.violation(plugin=A, version="2.0.0")
    await world.run_sagas()
    # The dependents' own sagas: their dependents are looked for too (none are listed).
    await world.run_sagas()
    events = list(world.store.sink.events)
    steps = dict(world.store.state.steps)
    assert (await world.run_sagas()).sagas == 0
    assert await world.violation(plugin=A, version="2.0.0", event_id="again") is None
    assert world.store.sink.events == events
    assert world.store.state.steps == steps


async def test_compat_down_leaves_the_step_pending_until_it_answers(world: RolloutWorld) -> None:
    """An unreachable dependency graph fails the saga's step; once its backoff is over the
    next pass finishes it."""
    a, b, _ = await chain(world)
    await world.violation(plugin=A, version="2.0.0")
    world.graph.fail_next()
    done = await world.run_sagas()
    assert (done.sagas, done.failed) == (1, 1)
    assert ("find_dependents", StepState.PENDING) in steps_of(world, a)
    assert (await world.get(b)).state is RolloutState.IN_PROGRESS
    world.clock.advance(seconds=world.saga_limits.retry_initial_seconds)
    await world.run_sagas()
    assert (await world.get(b)).state is RolloutState.ROLLED_BACK


async def test_a_dependent_without_a_rollout_is_recorded_not_invented(world: RolloutWorld) -> None:
    """A dependent no rollout brought (installed some other way) is named in the step's detail."""
    await installed(world, A, "1.0.0")
    a = await world.started(plugin=A, version="2.0.0")
    world.graph.needs(B, "3.0.0", on=A, on_version="2.0.0")
    await installed(world, B, "3.0.0")
    await world.violation(plugin=A, version="2.0.0")
    await world.run_sagas()
    [step] = [s for (rid, name), s in world.store.state.steps.items() if name.startswith("dep")]
    assert (step.rollout_id, step.state) == (a.rollout_id, StepState.DONE)
    assert step.detail.startswith(f"{B}@3.0.0 not rolled back: no rollout of it")
    assert len(world.events(ev.RolloutRolledBack)) == 1


async def test_without_a_dependency_graph_the_step_says_it_did_not_look(
    world: RolloutWorld,
) -> None:
    """No compat configured: the find step ends saying nothing was looked for, not "none"."""
    a = await world.started()
    await world.violation()
    await advance_sagas(world.uow, None, world.clock.now())
    [find] = [s for s in world.store.state.steps.values() if s.step == "find_dependents"]
    assert find.rollout_id == a.rollout_id
    assert find.state is StepState.DONE
    assert find.detail.startswith("not checked: rollout has no dependency graph")
    assert world.graph.asked == []
