"""The servicer from `build`: plans, criteria and gates in; rollouts, decisions, replays out.

The caller's identity comes from the claims the kernel's interceptor verified.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from portico.rollout.v1 import rollout_pb2 as pb
from portico_common.errors import InvalidArgumentError
from portico_common.grpc.tokens import Claims, current_claims
from portico_rollout.entrypoints.grpc_api import RolloutServicer
from portico_rollout.testing.world import PLUGIN, RolloutWorld

NO_CONTEXT: Any = None
TENANT = "acme"


@pytest.fixture
def api(world: RolloutWorld) -> RolloutServicer:
    [servicer, _assignments] = world.components().servicers
    assert isinstance(servicer.implementation, RolloutServicer)
    return servicer.implementation


@pytest.fixture
def release_manager() -> Iterator[None]:
    """Calls in the test are made as alice, a release manager of acme."""
    token = current_claims.set(Claims("alice", TENANT, (), 0, "t-1", ("release-manager",)))
    yield
    current_claims.reset(token)


def judged_plan() -> list[pb.PhaseSpec]:
    judgment = pb.JudgmentConfig(
        metrics=[pb.JudgmentMetric(name="latency_p95", direction="increase")],
        confidence=0.95,
        marginal_threshold=50,
    )
    criteria = pb.SuccessCriteria(min_samples=30, max_p95_latency_ms=250, judgment=judgment)
    gate = pb.ApprovalGate(
        required=1,
        roles=["release-manager"],
        timeout_seconds=600,
        on_deadline=pb.GATE_DEADLINE_ACTION_APPROVE,
    )
    return [
        pb.PhaseSpec(percent=20, bake_seconds=60, criteria=criteria),
        pb.PhaseSpec(percent=100, approval=gate),
    ]


async def request(api: RolloutServicer, **fields: Any) -> pb.Rollout:
    message = pb.RequestRolloutRequest(tenant_id=TENANT, plugin=PLUGIN, version="2.3.0", **fields)
    return (await api.RequestRollout(message, NO_CONTEXT)).rollout


async def started(world: RolloutWorld, api: RolloutServicer, **fields: Any) -> pb.Rollout:
    rollout = await request(api, **fields)
    await world.verdict("security", True)
    await world.verdict("compat", True)
    return rollout


async def test_a_full_plan_round_trips(world: RolloutWorld, api: RolloutServicer) -> None:
    """Strategy, plan, criteria with a judgment, gate and hold timeout come back as asked."""
    rollout = await request(
        api,
        strategy=pb.ROLLOUT_STRATEGY_CANARY,
        plan=judged_plan(),
        bake_seconds=90,
        hold_timeout_seconds=120,
    )
    assert [p.percent for p in rollout.plan] == [20, 100]
    # A phase without its own bake bakes the request's.
    assert [p.bake_seconds for p in rollout.plan] == [60, 90]
    first = rollout.plan[0].criteria
    assert (first.min_samples, first.max_p95_latency_ms) == (30, 250)
    assert first.judgment.confidence == pytest.approx(0.95)
    assert first.judgment.metrics[0].name == "latency_p95"
    assert rollout.plan[1].approval.on_deadline == pb.GATE_DEADLINE_ACTION_APPROVE
    assert (rollout.hold_timeout_seconds, rollout.slo_id) == (120, f"slo-{PLUGIN}@2.3.0")


@pytest.mark.parametrize(
    ("strategy", "percents"),
    [
        (pb.ROLLOUT_STRATEGY_UNSPECIFIED, [10, 25, 50, 100]),
        (pb.ROLLOUT_STRATEGY_BLUE_GREEN, [5, 100]),
        (pb.ROLLOUT_STRATEGY_ROLLING, [25, 50, 75, 100]),
        (pb.ROLLOUT_STRATEGY_INSTANT, [100]),
    ],
)
async def test_strategies_over_grpc(
    api: RolloutServicer, strategy: pb.RolloutStrategy.ValueType, percents: list[int]
) -> None:
    """Each strategy named in the request makes its plan."""
    rollout = await request(api, strategy=strategy)
    assert (rollout.strategy or pb.ROLLOUT_STRATEGY_CANARY, list(rollout.phases)) == (
        strategy or pb.ROLLOUT_STRATEGY_CANARY,
        percents,
    )


async def test_a_bad_judgment_metric_is_invalid_argument(api: RolloutServicer) -> None:
    """A metric the outcomes do not yield is refused with the field named."""
    criteria = pb.SuccessCriteria(
        judgment=pb.JudgmentConfig(metrics=[pb.JudgmentMetric(name="cpu")])
    )
    with pytest.raises(InvalidArgumentError, match=r"judgment\.metrics"):
        await request(api, criteria=criteria)


@pytest.mark.usefixtures("release_manager")
async def test_update_rollout_applies_each_control(
    world: RolloutWorld, api: RolloutServicer
) -> None:
    """PATCH-style UpdateRollout: pause, resume, promote, abort, retry, each by its action."""
    rollout = await started(world, api)

    async def update(action: pb.RolloutAction.ValueType, rollout_id: str) -> pb.Rollout:
        message = pb.UpdateRolloutRequest(
            tenant_id=TENANT, rollout_id=rollout_id, action=action, reason="ops"
        )
        return (await api.UpdateRollout(message, NO_CONTEXT)).rollout

    assert (await update(pb.ROLLOUT_ACTION_PAUSE, rollout.rollout_id)).state == (
        pb.ROLLOUT_STATE_PAUSED
    )
    assert (await update(pb.ROLLOUT_ACTION_RESUME, rollout.rollout_id)).state == (
        pb.ROLLOUT_STATE_IN_PROGRESS
    )
    assert (await update(pb.ROLLOUT_ACTION_PROMOTE, rollout.rollout_id)).percent == 25
    assert (await update(pb.ROLLOUT_ACTION_PROMOTE_FULL, rollout.rollout_id)).percent == 100
    aborted = await update(pb.ROLLOUT_ACTION_ABORT, rollout.rollout_id)
    assert aborted.state == pb.ROLLOUT_STATE_ROLLED_BACK
    retried = await update(pb.ROLLOUT_ACTION_RETRY, rollout.rollout_id)
    assert (retried.attempt, retried.retry_of) == (2, rollout.rollout_id)
    with pytest.raises(InvalidArgumentError, match="action"):
        await update(pb.ROLLOUT_ACTION_UNSPECIFIED, retried.rollout_id)
    audit = await api.ListRolloutAudit(
        pb.ListRolloutAuditRequest(tenant_id=TENANT, rollout_id=rollout.rollout_id), NO_CONTEXT
    )
    assert [(r.action, r.actor) for r in audit.records] == [
        (action, "alice")
        for action in ("pause", "resume", "promote", "promote_full", "abort", "retry")
    ]


@pytest.mark.usefixtures("release_manager")
async def test_the_resource_style_controls(world: RolloutWorld, api: RolloutServicer) -> None:
    """Pause, Resume, Promote (full), Abort and Retry RPCs do what UpdateRollout does."""
    rollout = await started(world, api)
    ids = {"tenant_id": TENANT, "rollout_id": rollout.rollout_id}
    paused = await api.PauseRollout(pb.PauseRolloutRequest(**ids), NO_CONTEXT)
    assert paused.rollout.state == pb.ROLLOUT_STATE_PAUSED
    resumed = await api.ResumeRollout(pb.ResumeRolloutRequest(**ids), NO_CONTEXT)
    assert resumed.rollout.state == pb.ROLLOUT_STATE_IN_PROGRESS
    promoted = await api.PromoteRollout(pb.PromoteRolloutRequest(**ids, full=True), NO_CONTEXT)
    assert promoted.rollout.percent == 100
    aborted = await api.AbortRollout(pb.AbortRolloutRequest(**ids, reason="x"), NO_CONTEXT)
    assert aborted.rollout.reason == "aborted by alice: x"
    retried = await api.RetryRollout(pb.RetryRolloutRequest(**ids), NO_CONTEXT)
    assert retried.rollout.attempt == 2


@pytest.mark.usefixtures("release_manager")
async def test_get_rollout_shows_the_live_phase_its_gate_health_and_decisions(
    world: RolloutWorld, api: RolloutServicer
) -> None:
    """At the gate: the live phase with its pending approval, health and the latest decisions."""
    rollout = await started(world, api, plan=judged_plan())
    await world.tick(seconds=60)
    got = await api.GetRollout(
        pb.GetRolloutRequest(tenant_id=TENANT, rollout_id=rollout.rollout_id), NO_CONTEXT
    )
    live = got.rollout.live_phase
    assert (live.index, live.percent, live.approval.state) == (0, 20, "PENDING")
    assert list(live.approval.eligible_roles) == ["release-manager"]
    # The canary passed its criteria; only the gate holds it.
    assert got.health.status == "healthy"
    assert "awaiting 1 approval(s) by release-manager" in got.health.summary
    [decision] = got.decisions
    assert (decision.kind, decision.source) == (pb.DECISION_KIND_HOLD, "approval")
    assert decision.evidence.canary.samples == 50
    assert json.loads(decision.evidence_json)["criteria"]["min_samples"] == 30
    decided = await api.DecideRolloutApproval(
        pb.DecideRolloutApprovalRequest(
            tenant_id=TENANT,
            rollout_id=rollout.rollout_id,
            phase_index=1,
            approve=True,
            role="release-manager",
        ),
        NO_CONTEXT,
    )
    assert (decided.step, decided.rollout.percent) == ("APPROVED", 100)


async def test_list_decisions_and_replay_over_grpc(
    world: RolloutWorld, api: RolloutServicer
) -> None:
    """Decisions list with their evidence; a replay under stricter criteria names what differs."""
    rollout = await started(world, api, bake_seconds=60)
    for _ in range(4):
        await world.tick(seconds=60)
    listed = await api.ListRolloutDecisions(
        pb.ListRolloutDecisionsRequest(tenant_id=TENANT, rollout_id=rollout.rollout_id),
        NO_CONTEXT,
    )
    assert [d.kind for d in listed.decisions] == [pb.DECISION_KIND_ADVANCE] * 4
    replayed = await api.ReplayRollout(
        pb.ReplayRolloutRequest(
            tenant_id=TENANT,
            rollout_id=rollout.rollout_id,
            criteria=pb.SuccessCriteria(min_samples=10_000),
        ),
        NO_CONTEXT,
    )
    assert (replayed.differing, replayed.outcome) == (4, "held")
    assert replayed.decisions[0].kind == pb.DECISION_KIND_HOLD
    assert replayed.decisions[0].original.decision_id == listed.decisions[0].decision_id


async def test_list_rollouts_filters_by_state(world: RolloutWorld, api: RolloutServicer) -> None:
    """ListRollouts with states; an unknown state number is INVALID_ARGUMENT."""
    await request(api)
    found = await api.ListRollouts(
        pb.ListRolloutsRequest(tenant_id=TENANT, states=[pb.ROLLOUT_STATE_AWAITING_CHECKS]),
        NO_CONTEXT,
    )
    assert len(found.rollouts) == 1
    with pytest.raises(InvalidArgumentError, match="states"):
        await api.ListRollouts(pb.ListRolloutsRequest(tenant_id=TENANT, states=[99]), NO_CONTEXT)
