"""The contract of the evidence slice's ports: plans, pauses and gates stored, decisions, audit,
pages of rollouts, and a scheduler scan that is fair between tenants."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portico_common.approvals import DeadlineAction
from portico_common.tenants import ALL_TENANTS
from portico_rollout.domain.audit import AuditRecord
from portico_rollout.domain.criteria import Criteria
from portico_rollout.domain.decisions import Decision, DecisionKind, DecisionSource
from portico_rollout.domain.judge.config import JudgmentConfig
from portico_rollout.domain.plan import GateRule, PhaseSpec, Strategy
from portico_rollout.domain.rollout import Rollout
from portico_rollout.domain.state import RolloutState
from portico_rollout.testing.evidence import healthy
from portico_rollout.testing.world import T0, Backend

PLUGIN = "@acme/plugin-cost-insights"
GATE = GateRule(
    required=2,
    roles=("release-manager",),
    timeout_seconds=3600,
    on_deadline=DeadlineAction.APPROVE,
)


def planned(rollout_id: str, tenant: str = "acme", plugin: str = PLUGIN) -> Rollout:
    """A started blue-green rollout whose second phase has a gate and a judgment."""
    judged = Criteria(min_samples=5, max_p95_latency_ms=300, judgment=JudgmentConfig())
    rollout = Rollout.request(
        rollout_id=rollout_id,
        tenant_id=tenant,
        plugin=plugin,
        version="2.3.0",
        stable_version="2.2.0",
        now=T0,
        strategy=Strategy.BLUE_GREEN,
        plan=(PhaseSpec(5, 60, judged), PhaseSpec(100, 120, Criteria(), GATE)),
        hold_timeout_seconds=90,
        slo_id="slo-1",
    )
    rollout.record_security_verdict(True, [], T0)
    rollout.record_compat_verdict(True, [], T0)
    return rollout


def decision(rollout: Rollout, seq: int, kind: DecisionKind = DecisionKind.HOLD) -> Decision:
    evidence = healthy(rollout, T0).to_json()
    return Decision(
        tenant_id=rollout.tenant_id,
        rollout_id=rollout.rollout_id,
        seq=seq,
        at=T0 + timedelta(seconds=seq),
        kind=kind,
        source=DecisionSource.CRITERIA,
        phase_index=0,
        percent=5,
        to_percent=5,
        reasons=("not enough samples", f"try {seq}"),
        evidence={"phase": {"index": 0}, **evidence},
    )


async def test_a_plan_with_gate_and_pause_round_trips(backend: Backend) -> None:
    """Strategy, plan (criteria, judgment, gate), SLO, the open gate and a pause read back equal."""
    rollout = planned("ro-1")
    rollout.evaluate(T0 + timedelta(seconds=60), healthy(rollout, T0))
    assert rollout.awaiting_approval
    rollout.pause(T0 + timedelta(seconds=61), actor="ops", reason="look")
    async with backend.uow("acme") as tx:
        assert await tx.rollouts.add(rollout)
    async with backend.uow("acme") as tx:
        stored = await tx.rollouts.get("acme", "ro-1")
    assert stored == rollout
    assert stored is not None
    assert (stored.state, stored.gate_phase, stored.slo_id) == (RolloutState.PAUSED, 1, "slo-1")


async def test_a_paused_rollout_is_the_plugins_unfinished_one_and_never_due(
    backend: Backend,
) -> None:
    """A paused rollout still blocks a second one of its plugin, and the scheduler skips it."""
    rollout = planned("ro-1")
    rollout.pause(T0, actor="ops", reason="")
    async with backend.uow("acme") as tx:
        assert await tx.rollouts.add(rollout)
        assert not await tx.rollouts.add(planned("ro-2"))
        assert (await tx.rollouts.active_for("acme", PLUGIN)) == rollout
    async with backend.uow(ALL_TENANTS) as tx:
        assert await tx.rollouts.due(T0 + timedelta(days=1), 10, 10) == []


async def test_the_scan_takes_at_most_a_few_of_one_tenant(backend: Backend) -> None:
    """With per_tenant 2, a tenant with five due rollouts cannot crowd out another's one."""
    for n in range(5):
        async with backend.uow("busy") as tx:
            await tx.rollouts.add(planned(f"busy-{n}", tenant="busy", plugin=f"p{n}"))
    async with backend.uow("calm") as tx:
        calm = planned("calm-0", tenant="calm")
        calm.phase_started_at = T0 + timedelta(seconds=30)
        calm.next_check_at = T0 + timedelta(seconds=90)
        await tx.rollouts.add(calm)
    async with backend.uow(ALL_TENANTS) as tx:
        due = await tx.rollouts.due(T0 + timedelta(hours=1), 3, 2)
    assert due == [("busy", "busy-0"), ("busy", "busy-1"), ("calm", "calm-0")]


async def test_a_deferred_rollout_leaves_the_scan_until_then(backend: Backend) -> None:
    """defer() puts a due rollout off to a later time without touching its row's revision."""
    async with backend.uow("acme") as tx:
        await tx.rollouts.add(planned("ro-1"))
    async with backend.uow("acme") as tx:
        await tx.rollouts.defer("acme", "ro-1", T0 + timedelta(minutes=5))
    async with backend.uow(ALL_TENANTS) as tx:
        assert await tx.rollouts.due(T0 + timedelta(minutes=4), 10, 10) == []
        assert await tx.rollouts.due(T0 + timedelta(minutes=5), 10, 10) == [("acme", "ro-1")]
    async with backend.uow("acme") as tx:
        stored = await tx.rollouts.get("acme", "ro-1")
    assert stored is not None
    assert stored.revision == 0


async def test_pages_filter_by_plugin_and_state_newest_first(backend: Backend) -> None:
    """page() orders by creation descending, filters by plugin and state, resumes after a cursor."""
    async with backend.uow("acme") as tx:
        for n in range(4):
            # ro-0 is rolled back, so ro-2 may roll the same plugin out.
            rollout = planned(f"ro-{n}", plugin="p0" if n in {0, 2} else f"p{n}")
            rollout.created_at = T0 + timedelta(minutes=n)
            if n == 0:
                rollout.abort(T0, actor="ops", reason="")
            await tx.rollouts.add(rollout)
    async with backend.uow("acme") as tx:
        every = await tx.rollouts.page("acme", plugin="", states=[], after=None, limit=10)
        assert [r.rollout_id for r in every] == ["ro-3", "ro-2", "ro-1", "ro-0"]
        p0 = await tx.rollouts.page("acme", plugin="p0", states=[], after=None, limit=10)
        assert [r.rollout_id for r in p0] == ["ro-2", "ro-0"]
        rolled = await tx.rollouts.page(
            "acme", plugin="", states=["ROLLED_BACK"], after=None, limit=10
        )
        assert [r.rollout_id for r in rolled] == ["ro-0"]
        cursor = (every[1].created_at, every[1].rollout_id)
        rest = await tx.rollouts.page("acme", plugin="", states=[], after=cursor, limit=1)
        assert [r.rollout_id for r in rest] == ["ro-1"]
    async with backend.uow("globex") as tx:
        assert await tx.rollouts.page("acme", plugin="", states=[], after=None, limit=10) == []


async def test_decisions_keep_their_evidence_in_order(backend: Backend) -> None:
    """Decisions read back equal (evidence included), oldest first after a seq, newest first."""
    rollout = planned("ro-1")
    first, second, third = (decision(rollout, n) for n in (1, 2, 3))
    async with backend.uow("acme") as tx:
        await tx.rollouts.add(rollout)
        for d in (first, second, third):
            await tx.decisions.add(d)
    async with backend.uow("acme") as tx:
        assert await tx.decisions.for_rollout("acme", "ro-1") == [first, second, third]
        assert await tx.decisions.for_rollout("acme", "ro-1", after_seq=1, limit=1) == [second]
        assert await tx.decisions.latest("acme", "ro-1", 2) == [third, second]
    async with backend.uow("globex") as tx:
        assert await tx.decisions.for_rollout("acme", "ro-1") == []


async def test_a_decision_is_stored_once(backend: Backend) -> None:
    """A second decision with the same (rollout, seq) is refused and rolls the transaction back."""
    rollout = planned("ro-1")
    async with backend.uow("acme") as tx:
        await tx.rollouts.add(rollout)
        await tx.decisions.add(decision(rollout, 1))
    with pytest.raises(Exception):  # noqa: B017, PT011 - a unique violation, named per adapter
        async with backend.uow("acme") as tx:
            await tx.decisions.add(decision(rollout, 1, DecisionKind.FAIL))
    async with backend.uow("acme") as tx:
        [kept] = await tx.decisions.for_rollout("acme", "ro-1")
    assert kept.kind is DecisionKind.HOLD


async def test_audit_records_are_numbered_in_order(backend: Backend) -> None:
    """Audit records get increasing numbers; pages filter by rollout and resume after a number."""
    async with backend.uow("acme") as tx:
        await tx.rollouts.add(planned("ro-1"))
        await tx.rollouts.add(planned("ro-2", plugin="other"))
        for rollout_id, action in (("ro-1", "pause"), ("ro-2", "abort"), ("ro-1", "resume")):
            await tx.audit.add(AuditRecord("acme", rollout_id, T0, "ops", action, "why", "d"))
    async with backend.uow("acme") as tx:
        every = await tx.audit.page("acme", "", after=0, limit=10)
        ones = await tx.audit.page("acme", "ro-1", after=0, limit=10)
        after = await tx.audit.page("acme", "", after=every[0].seq, limit=1)
    assert [r.action for r in every] == ["pause", "abort", "resume"]
    assert every[0].seq < every[1].seq < every[2].seq
    assert [r.action for r in ones] == ["pause", "resume"]
    assert [r.action for r in after] == ["abort"]
    assert (every[0].actor, every[0].reason, every[0].detail) == ("ops", "why", "d")
