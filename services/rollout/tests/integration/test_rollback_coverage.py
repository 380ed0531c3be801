"""Rollbacks that cover everything, on the real service with PostgreSQL and JetStream.

The service runs in-process (its saga runner and consumers included) with
an in-memory dependency graph standing in for compat; events are real
CloudEvents, state is read back over gRPC and from the tables.
"""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest

from portico.events.v1 import events_pb2 as ev
from portico.rollout.v1 import rollout_pb2 as pb
from portico_rollout.testing.driver import RolloutDriver

pytestmark = pytest.mark.integration

A, B = "@acme/plugin-a", "@acme/plugin-b"
NewTenant = Callable[[], str]


async def live(
    svc: RolloutDriver, tenant: str, plugin: str, version: str, phases: list[int]
) -> str:
    """A rollout of the version with both checks passed: its first phase serves."""
    svc.slo.steady(tenant, plugin, version)
    rollout = await svc.request(tenant, plugin, version, bake_seconds=600, phases=phases)
    await svc.send(
        ev.ArtifactVerified(tenant_id=tenant, plugin=plugin, version=version), tenant=tenant
    )
    await svc.send(
        ev.CompatChecked(tenant_id=tenant, plugin=plugin, version=version, compatible=True),
        tenant=tenant,
    )

    async def serving() -> bool:
        got = await svc.get(tenant, rollout.rollout_id)
        return got.state == pb.ROLLOUT_STATE_IN_PROGRESS

    await svc.eventually(serving)
    return rollout.rollout_id


async def installed(svc: RolloutDriver, tenant: str, plugin: str, version: str) -> str:
    """A one-phase rollout an operator promoted: the version is the plugin's stable one."""
    rollout_id = await live(svc, tenant, plugin, version, [100])
    promoted = await svc.stub.PromoteRollout(
        pb.PromoteRolloutRequest(tenant_id=tenant, rollout_id=rollout_id, reason="seed"),
        timeout=10,
    )
    assert promoted.rollout.state == pb.ROLLOUT_STATE_COMPLETED
    return rollout_id


def violated(tenant: str, plugin: str, version: str) -> ev.SloViolated:
    return ev.SloViolated(
        tenant_id=tenant, slo_id="slo-x", plugin=plugin, version=version, rule="fast burn"
    )


def rolled_back_of(svc: RolloutDriver, tenant: str) -> list[ev.RolloutRolledBack]:
    found = []
    for envelope in svc.watch.of("rollout.rolled_back"):
        if envelope.tenant_id == tenant:
            assert isinstance(envelope.payload, ev.RolloutRolledBack)
            found.append(envelope.payload)
    return found


async def test_the_chain_goes_back_traffic_first_then_dependents(
    rollout_service: RolloutDriver, new_tenant: NewTenant
) -> None:
    """A's rollback commits with its decision; the saga runner then rolls B (needs A 2) back."""
    svc, tenant = rollout_service, new_tenant()
    await installed(svc, tenant, A, "1.0.0")
    await installed(svc, tenant, B, "1.0.0")
    a = await live(svc, tenant, A, "2.0.0", [50, 100])
    b = await live(svc, tenant, B, "2.0.0", [50, 100])
    svc.graph.needs(B, "2.0.0", on=A, on_version="2.0.0")
    await svc.send(violated(tenant, A, "2.0.0"), tenant=tenant)

    async def both() -> bool:
        await svc.watch.poll()
        return len(rolled_back_of(svc, tenant)) >= 2

    await svc.eventually(both)
    assert [(e.rollout_id, e.cause_rollout_id) for e in rolled_back_of(svc, tenant)] == [
        (a, ""),
        (b, a),
    ]
    steps = await svc.rows(
        "SELECT step, state FROM rollback_steps WHERE rollout_id = $1 ORDER BY ordinal", a
    )
    assert [(r["step"], r["state"]) for r in steps] == [
        ("traffic_to_stable", "done"),
        ("find_dependents", "done"),
        (f"dependent:{B}@2.0.0", "done"),
    ]
    [decision] = await svc.rows(
        "SELECT source FROM rollout_decisions WHERE rollout_id = $1 AND kind = 'rollback'", b
    )
    assert decision["source"] == "dependency"
    for plugin in (A, B):
        await svc.eventually(lambda p=plugin: svc.resolves_at(tenant, p, 0, rollout_id=""))
        assert (await svc.resolve(tenant, plugin, "user-1")).version == "1.0.0"


async def test_a_violation_in_the_post_promotion_window_takes_a_completion_back(
    rollout_service: RolloutDriver, new_tenant: NewTenant
) -> None:
    """A completed rollout is still watched: slo.violated for it puts the old stable back."""
    svc, tenant = rollout_service, new_tenant()
    await installed(svc, tenant, A, "1.0.0")
    completed = await installed(svc, tenant, A, "2.0.0")
    await svc.send(violated(tenant, A, "2.0.0"), tenant=tenant)
    [event] = await svc.watch.wait_for("rollout.rolled_back")
    assert isinstance(event.payload, ev.RolloutRolledBack)
    assert (event.payload.rollout_id, event.payload.after_completion) == (completed, True)
    [stable] = await svc.rows(
        "SELECT version FROM stable_versions WHERE tenant_id = $1 AND plugin = $2", tenant, A
    )
    assert stable["version"] == "1.0.0"
    got = await svc.get(tenant, completed)
    assert got.state == pb.ROLLOUT_STATE_ROLLED_BACK


async def test_a_watched_completion_onto_a_flawed_stable_is_held_until_aborted(
    rollout_service: RolloutDriver, new_tenant: NewTenant
) -> None:
    """The window's violation is decided by the scheduler after reading advisories: held."""
    svc, tenant = rollout_service, new_tenant()
    await installed(svc, tenant, A, "1.0.0")
    completed = await installed(svc, tenant, A, "2.0.0")
    svc.advisories.declare(tenant, A, "1.0.0", "GHSA-crit-0009")
    await svc.send(violated(tenant, A, "2.0.0"), tenant=tenant)

    async def held() -> list[object]:
        return await svc.rows(
            "SELECT reasons FROM rollout_decisions WHERE rollout_id = $1 AND kind = 'hold'",
            completed,
        )

    await svc.eventually(held)
    [row] = await svc.rows(
        "SELECT state, due_at, rolling_back FROM rollouts WHERE rollout_id = $1", completed
    )
    # Decided: no longer due, no request pending, still the stable version.
    assert (row["state"], row["due_at"], row["rolling_back"]) == ("COMPLETED", None, None)
    [stable] = await svc.rows(
        "SELECT version FROM stable_versions WHERE tenant_id = $1 AND plugin = $2", tenant, A
    )
    assert stable["version"] == "2.0.0"
    await svc.watch.poll()
    assert rolled_back_of(svc, tenant) == []
    aborted = await svc.stub.AbortRollout(
        pb.AbortRolloutRequest(tenant_id=tenant, rollout_id=completed, reason="accepted"),
        timeout=10,
    )
    assert aborted.rollout.state == pb.ROLLOUT_STATE_ROLLED_BACK
    [event] = await svc.watch.wait_for("rollout.rolled_back")
    assert isinstance(event.payload, ev.RolloutRolledBack)
    assert (event.payload.after_completion, event.payload.stable_version) == (True, "1.0.0")


async def test_a_violation_while_checks_are_awaited_is_not_lost(
    rollout_service: RolloutDriver, new_tenant: NewTenant
) -> None:
    """slo.violated before the checks pass refuses the rollout; the checks then start nothing."""
    svc, tenant = rollout_service, new_tenant()
    requested = await svc.request(tenant, A, "2.0.0", bake_seconds=600)
    svc.clock.advance(seconds=1)
    await svc.send(violated(tenant, A, "2.0.0"), tenant=tenant)
    await svc.watch.wait_for("rollout.refused")
    await svc.send(ev.ArtifactVerified(tenant_id=tenant, plugin=A, version="2.0.0"), tenant=tenant)
    await svc.send(
        ev.CompatChecked(tenant_id=tenant, plugin=A, version="2.0.0", compatible=True),
        tenant=tenant,
    )
    got = await svc.get(tenant, requested.rollout_id)
    assert got.state == pb.ROLLOUT_STATE_REFUSED
    assert got.reason.startswith("slo slo-x violated")


async def test_a_violation_over_a_flawed_stable_pauses_and_an_abort_rolls_back(
    rollout_service: RolloutDriver, new_tenant: NewTenant
) -> None:
    """A critical advisory on the stable version: slo.violated pauses; AbortRollout rolls back."""
    svc, tenant = rollout_service, new_tenant()
    await installed(svc, tenant, A, "1.0.0")
    svc.advisories.declare(tenant, A, "1.0.0", "GHSA-crit-0001")
    a = await live(svc, tenant, A, "2.0.0", [50, 100])
    [row] = await svc.rows("SELECT stable_advisories FROM rollouts WHERE rollout_id = $1", a)
    assert row["stable_advisories"] == ["GHSA-crit-0001"]
    await svc.send(violated(tenant, A, "2.0.0"), tenant=tenant)
    [paused] = await svc.watch.wait_for("rollout.paused")
    assert isinstance(paused.payload, ev.RolloutPaused)
    assert "held: critical advisories GHSA-crit-0001" in paused.payload.reason
    got = await svc.get(tenant, a)
    assert (got.state, got.percent) == (pb.ROLLOUT_STATE_PAUSED, 50)
    aborted = await svc.stub.AbortRollout(
        pb.AbortRolloutRequest(tenant_id=tenant, rollout_id=a, reason="accept the advisory"),
        timeout=10,
    )
    assert aborted.rollout.state == pb.ROLLOUT_STATE_ROLLED_BACK


async def test_a_gradual_rollback_steps_down_on_the_scheduler(
    rollout_service: RolloutDriver, new_tenant: NewTenant
) -> None:
    """rollback_step_seconds 60: 50% -> 10% with the decision, then 0% once the clock moves."""
    svc, tenant = rollout_service, new_tenant()
    svc.slo.steady(tenant, A, "2.0.0")
    requested = await svc.stub.RequestRollout(
        pb.RequestRolloutRequest(
            tenant_id=tenant,
            plugin=A,
            version="2.0.0",
            bake_seconds=600,
            phases=[10, 50, 100],
            rollback_step_seconds=60,
        ),
        timeout=10,
    )
    a = requested.rollout.rollout_id
    await svc.send(ev.ArtifactVerified(tenant_id=tenant, plugin=A, version="2.0.0"), tenant=tenant)
    await svc.send(
        ev.CompatChecked(tenant_id=tenant, plugin=A, version="2.0.0", compatible=True),
        tenant=tenant,
    )
    await svc.watch.wait_for("rollout.started")
    await svc.stub.PromoteRollout(
        pb.PromoteRolloutRequest(tenant_id=tenant, rollout_id=a, reason="to 50"), timeout=10
    )
    await svc.send(violated(tenant, A, "2.0.0"), tenant=tenant)

    async def stepping() -> bool:
        got = await svc.get(tenant, a)
        return (got.state, got.percent) == (pb.ROLLOUT_STATE_ROLLING_BACK, 10)

    await svc.eventually(stepping)
    await svc.eventually(lambda: svc.resolves_at(tenant, A, 10, rollout_id=a))
    svc.clock.advance(seconds=60)

    async def back() -> bool:
        got = await svc.get(tenant, a)
        return (got.state, got.percent) == (pb.ROLLOUT_STATE_ROLLED_BACK, 0)

    await svc.eventually(back)
    [rolled_back] = await svc.watch.wait_for("rollout.rolled_back")
    assert isinstance(rolled_back.payload, ev.RolloutRolledBack)
    assert rolled_back.payload.rollout_id == a
    rows = await svc.rows(
        "SELECT percent, to_percent FROM rollout_decisions"
        " WHERE rollout_id = $1 AND kind = 'rollback' ORDER BY seq",
        a,
    )
    assert [(r["percent"], r["to_percent"]) for r in rows] == [(50, 10), (10, 0)]


async def test_a_retry_waits_for_the_slo_and_ignores_the_earlier_violation(
    rollout_service: RolloutDriver, new_tenant: NewTenant
) -> None:
    """RetryRollout is FAILED_PRECONDITION while the SLO burns; once OK, the earlier attempt's
    violation (delivered again, its detection before slo's OK) leaves the retry serving."""
    svc, tenant = rollout_service, new_tenant()
    await installed(svc, tenant, A, "1.0.0")
    first = await live(svc, tenant, A, "2.0.0", [50, 100])
    earlier = svc.clock.now()
    await svc.send(violated(tenant, A, "2.0.0"), tenant=tenant, time=earlier)
    await svc.watch.wait_for("rollout.rolled_back")
    svc.clock.advance(seconds=30)
    svc.slo.judged(tenant, A, "2.0.0", svc.clock.now(), violated_at=earlier, firing=["page-1h"])
    retry = pb.RetryRolloutRequest(tenant_id=tenant, rollout_id=first, reason="fixed")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await svc.stub.RetryRollout(retry, timeout=10)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "violated since" in (refused.value.details() or "")
    assert len(await svc.rows("SELECT 1 FROM rollouts WHERE tenant_id = $1", tenant)) == 2

    svc.clock.advance(seconds=300)
    svc.slo.judged(tenant, A, "2.0.0", svc.clock.now())
    second = (await svc.stub.RetryRollout(retry, timeout=10)).rollout
    assert (second.attempt, second.retry_of) == (2, first)

    async def serving() -> bool:
        return (await svc.get(tenant, second.rollout_id)).state == pb.ROLLOUT_STATE_IN_PROGRESS

    await svc.eventually(serving)
    # The first attempt's violation again (a redelivery from elsewhere, a new ce-id).
    stale = await svc.send(violated(tenant, A, "2.0.0"), tenant=tenant, time=earlier)
    await svc.eventually(
        lambda: svc.rows("SELECT 1 FROM inbox WHERE event_id = $1", stale.id), within=10
    )
    assert (await svc.get(tenant, second.rollout_id)).state == pb.ROLLOUT_STATE_IN_PROGRESS
    # A violation detected after slo's OK is the retry's own.
    svc.clock.advance(seconds=5)
    await svc.send(violated(tenant, A, "2.0.0"), tenant=tenant)
    await svc.watch.wait_for("rollout.rolled_back", count=2)
    assert (await svc.get(tenant, second.rollout_id)).state == pb.ROLLOUT_STATE_ROLLED_BACK
