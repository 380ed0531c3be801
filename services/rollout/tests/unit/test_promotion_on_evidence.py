"""A phase advances only when its bake is over AND its criteria hold on the evidence.

No data is not success: too few samples hold the phase, and a phase that
holds past the hold timeout fails the rollout, rolling it back.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from portico_rollout.domain.criteria import Criteria
from portico_rollout.domain.decisions import DecisionKind, DecisionSource, kinds
from portico_rollout.domain.events import (
    RolloutDecisionRecorded,
    RolloutEvent,
    RolloutPhaseAdvanced,
    RolloutRolledBack,
)
from portico_rollout.domain.evidence import Evidence
from portico_rollout.domain.judge.config import JudgmentConfig, MetricConfig
from portico_rollout.domain.plan import PhaseSpec
from portico_rollout.domain.rollout import Rollout
from portico_rollout.domain.state import RolloutState
from portico_rollout.testing.evidence import empty, healthy, version_outcomes

from .conftest import MakeRollout

BAKE = timedelta(seconds=600)


def decisions(events: list[RolloutEvent]) -> list[str]:
    return kinds([e.decision for e in events if isinstance(e, RolloutDecisionRecorded)])


def with_criteria(make_rollout: MakeRollout, t0: datetime, criteria: Criteria) -> Rollout:
    """A started rollout whose every phase has `criteria`, the hold timeout one hour."""
    rollout = make_rollout(
        plan=[PhaseSpec(p, 600, criteria) for p in (10, 50, 100)], hold_timeout_seconds=3600
    )
    rollout.record_security_verdict(True, [], t0)
    rollout.record_compat_verdict(True, [], t0)
    return rollout


def canary(
    rollout: Rollout,
    *,
    totals: list[int],
    errors: list[int] | None = None,
    latencies: list[float] | None = None,
    burn_rate: float = 0.0,
    baseline_latencies: list[float] | None = None,
    baseline_errors: list[int] | None = None,
) -> Evidence:
    """The canary's outcomes per interval, and the stable version serving the same totals."""
    start = rollout.phase_started_at
    assert start is not None
    return Evidence(
        window_start=start,
        window_end=start + BAKE,
        canary=version_outcomes(
            rollout.version,
            start,
            totals=totals,
            errors=errors,
            latencies=latencies,
            burn_rate=burn_rate,
        ),
        baseline=version_outcomes(
            rollout.stable_version,
            start,
            totals=totals,
            errors=baseline_errors,
            latencies=baseline_latencies,
        ),
    )


def test_good_evidence_before_the_bake_ends_changes_nothing(started: Rollout, t0: datetime) -> None:
    """Criteria that hold are not enough: one second before the bake ends nothing is decided."""
    assert started.evaluate(t0 + BAKE - timedelta(seconds=1), healthy(started, t0)) == []
    assert (started.percent, started.decision_count) == (10, 0)


def test_a_baked_phase_whose_criteria_hold_advances_with_its_evidence(
    started: Rollout, t0: datetime
) -> None:
    """At the bake's end, on healthy evidence, one ADVANCE decision carries the evidence."""
    events = started.evaluate(t0 + BAKE, healthy(started, t0))
    decided, advanced = events
    assert isinstance(decided, RolloutDecisionRecorded)
    assert isinstance(advanced, RolloutPhaseAdvanced)
    decision = decided.decision
    assert (decision.kind, decision.source) == (DecisionKind.ADVANCE, DecisionSource.CRITERIA)
    assert (decision.seq, decision.percent, decision.to_percent) == (1, 10, 25)
    assert decision.evidence["canary"]["total"] == 100
    assert decision.evidence["baseline"]["version"] == "2.2.0"
    assert decision.evidence["criteria"]["min_samples"] == 20
    assert decision.evidence["phase"]["index"] == 0
    assert decision.on_evidence


def test_too_few_samples_hold_the_phase_and_look_again_soon(
    make_rollout: MakeRollout, t0: datetime
) -> None:
    """19 of 20 samples: HOLD, the share stays; the next look is one second later, not the
    recheck's 30: the missing outcome may be on its way."""
    rollout = with_criteria(make_rollout, t0, Criteria(min_samples=20))
    now = t0 + BAKE
    events = rollout.evaluate(now, canary(rollout, totals=[19]), recheck_seconds=30)
    assert decisions(events) == ["hold:criteria"]
    decided = events[0]
    assert isinstance(decided, RolloutDecisionRecorded)
    assert decided.decision.reasons == ("not enough samples: 19 of 20 canary outcomes",)
    assert (rollout.state, rollout.percent) == (RolloutState.IN_PROGRESS, 10)
    assert rollout.due_at() == now + timedelta(seconds=1)
    assert rollout.evaluate(now + timedelta(milliseconds=999), canary(rollout, totals=[20])) == []
    later = rollout.evaluate(now + timedelta(seconds=1), canary(rollout, totals=[20]))
    assert decisions(later) == ["advance:criteria"]


def test_waiting_for_samples_looks_again_after_doubling_waits_up_to_the_recheck(
    make_rollout: MakeRollout, t0: datetime
) -> None:
    """1, 2, 4, 8, 16 s, then every recheck (30 s); the next phase starts again at 1 s."""
    rollout = with_criteria(make_rollout, t0, Criteria(min_samples=20))
    now = t0 + BAKE
    waits = []
    for _ in range(7):
        assert decisions(rollout.evaluate(now, canary(rollout, totals=[0]))) == ["hold:criteria"]
        due = rollout.due_at()
        assert due is not None
        waits.append((due - now).total_seconds())
        now = due
    assert waits == [1, 2, 4, 8, 16, 30, 30]
    assert decisions(rollout.evaluate(now, canary(rollout, totals=[20]))) == ["advance:criteria"]
    baked = now + BAKE
    rollout.evaluate(baked, canary(rollout, totals=[3]))
    assert rollout.due_at() == baked + timedelta(seconds=1)


def test_no_data_holds_then_fails_with_a_rollback_after_the_timeout(
    started: Rollout, t0: datetime
) -> None:
    """Without outcomes the phase holds; past bake + hold timeout it fails and rolls back."""
    seen: list[str] = []
    now = t0 + BAKE
    while started.state is RolloutState.IN_PROGRESS:
        seen += decisions(started.evaluate(now, empty(started, now), recheck_seconds=600))
        now += timedelta(seconds=600)
    assert seen == ["hold:criteria"] * 6 + ["fail:criteria"]
    assert started.state is RolloutState.ROLLED_BACK
    assert started.reason.startswith("held past 3600s after the bake; not enough samples: 0 of 20")
    failed_at = now - timedelta(seconds=600)
    assert failed_at == t0 + BAKE + timedelta(seconds=3600)


def test_a_no_data_failure_emits_the_rollback(started: Rollout, t0: datetime) -> None:
    """The failing evaluation yields the FAIL decision then rollout.rolled_back, at 0%."""
    late = t0 + BAKE + timedelta(seconds=3600)
    events = started.evaluate(late, empty(started, late))
    decided, rolled_back = events
    assert isinstance(decided, RolloutDecisionRecorded)
    assert isinstance(rolled_back, RolloutRolledBack)
    assert (decided.decision.kind, decided.decision.to_percent) == (DecisionKind.FAIL, 0)
    assert rolled_back.stable_version == "2.2.0"
    assert started.percent == 0


def test_an_error_rate_above_the_maximum_fails_at_once(
    make_rollout: MakeRollout, t0: datetime
) -> None:
    """6 errors in 100 outcomes against a 5% maximum fail the rollout, no hold first."""
    rollout = with_criteria(make_rollout, t0, Criteria(max_error_rate=0.05))
    events = rollout.evaluate(t0 + BAKE, canary(rollout, totals=[50, 50], errors=[3, 3]))
    assert decisions(events) == ["fail:criteria"]
    assert rollout.reason == "error rate 6.00% above 5.00% (6 of 100)"
    assert rollout.state is RolloutState.ROLLED_BACK


def test_latency_percentiles_above_their_maxima_fail(
    make_rollout: MakeRollout, t0: datetime
) -> None:
    """p95 (and p99 = 1.2 x p95 here) above their maxima each name themselves in the reasons."""
    criteria = Criteria(max_p95_latency_ms=200, max_p99_latency_ms=240)
    rollout = with_criteria(make_rollout, t0, criteria)
    events = rollout.evaluate(t0 + BAKE, canary(rollout, totals=[50], latencies=[250.0]))
    decided = events[0]
    assert isinstance(decided, RolloutDecisionRecorded)
    assert decided.decision.reasons == (
        "p95 latency 250 ms above 200 ms",
        "p99 latency 300 ms above 240 ms",
    )


def test_latency_within_its_maxima_passes(make_rollout: MakeRollout, t0: datetime) -> None:
    """p95 and p99 at or under their maxima let the phase advance, each listed as held."""
    criteria = Criteria(max_p95_latency_ms=200, max_p99_latency_ms=240)
    rollout = with_criteria(make_rollout, t0, criteria)
    events = rollout.evaluate(t0 + BAKE, canary(rollout, totals=[50], latencies=[200.0]))
    decided = events[0]
    assert isinstance(decided, RolloutDecisionRecorded)
    assert decided.decision.kind is DecisionKind.ADVANCE
    assert "p95 200 ms (at most 200)" in decided.decision.reasons
    assert "p99 240 ms (at most 240)" in decided.decision.reasons


def test_an_slo_burn_rate_above_the_maximum_fails(make_rollout: MakeRollout, t0: datetime) -> None:
    """The version's SLO burning at 3x against a maximum of 2x fails the phase."""
    rollout = with_criteria(make_rollout, t0, Criteria(max_burn_rate=2.0))
    events = rollout.evaluate(t0 + BAKE, canary(rollout, totals=[50], burn_rate=3.0))
    assert decisions(events) == ["fail:criteria"]
    assert rollout.reason == "SLO burn rate 3.00x above 2x"


def test_a_paused_rollout_is_not_judged(started: Rollout, t0: datetime) -> None:
    """While paused the phase is never judged, however long past its bake."""
    started.pause(t0 + timedelta(seconds=60), actor="ops", reason="")
    assert started.due_at() is None
    assert started.evaluate(t0 + timedelta(days=1), healthy(started, t0)) == []


# -- the statistical judgment on the criteria ---------------------------------------


def judged(make_rollout: MakeRollout, t0: datetime, config: JudgmentConfig) -> Rollout:
    return with_criteria(make_rollout, t0, Criteria(min_samples=10, judgment=config))


LATENCY_ONLY = JudgmentConfig(metrics=(MetricConfig("latency_p95"),))
ERRORS_AND_LATENCY = JudgmentConfig(
    metrics=(
        MetricConfig("error_rate", groups=("errors",)),
        MetricConfig("latency_p95", groups=("latency",)),
    ),
    pass_threshold=95,
    marginal_threshold=40,
)
# Twenty intervals whose p95 wanders a little around 100 ms.
STEADY = [100.0 + (i % 5) for i in range(20)]


def test_a_canary_like_its_baseline_passes_the_judgment(
    make_rollout: MakeRollout, t0: datetime
) -> None:
    """Same latencies as the baseline: score 100, Pass, the phase advances on the judgment."""
    rollout = judged(make_rollout, t0, LATENCY_ONLY)
    evidence = canary(rollout, totals=[10] * 20, latencies=STEADY, baseline_latencies=STEADY)
    events = rollout.evaluate(t0 + BAKE, evidence)
    assert decisions(events) == ["advance:judgment"]
    decided = events[0]
    assert isinstance(decided, RolloutDecisionRecorded)
    judgment = decided.decision.evidence["judgment"]
    assert (judgment["score"], judgment["verdict"]) == (100.0, "Pass")
    assert judgment["metrics"][0]["label"] == "Pass"


def test_a_much_slower_canary_fails_the_judgment_and_rolls_back(
    make_rollout: MakeRollout, t0: datetime
) -> None:
    """Canary p95 three times the baseline's: High, score 0, below marginal, rollback."""
    rollout = judged(make_rollout, t0, LATENCY_ONLY)
    slow = [3 * v for v in STEADY]
    evidence = canary(rollout, totals=[10] * 20, latencies=slow, baseline_latencies=STEADY)
    events = rollout.evaluate(t0 + BAKE, evidence)
    assert decisions(events) == ["fail:judgment"]
    assert rollout.state is RolloutState.ROLLED_BACK
    assert rollout.reason.startswith("judgment ")
    decided = events[0]
    assert isinstance(decided, RolloutDecisionRecorded)
    assert decided.decision.evidence["judgment"]["metrics"][0]["label"] == "High"


def test_a_marginal_score_holds_the_phase(make_rollout: MakeRollout, t0: datetime) -> None:
    """One group of two failing scores 50: between marginal 40 and pass 95, the phase holds.

    It has its samples and needs more of them, not a quick look: the whole recheck.
    """
    rollout = judged(make_rollout, t0, ERRORS_AND_LATENCY)
    slow = [3 * v for v in STEADY]
    evidence = canary(rollout, totals=[10] * 20, latencies=slow, baseline_latencies=STEADY)
    events = rollout.evaluate(t0 + BAKE, evidence, recheck_seconds=30, sample_recheck_seconds=1)
    assert decisions(events) == ["hold:judgment"]
    assert rollout.due_at() == t0 + BAKE + timedelta(seconds=30)
    decided = events[0]
    assert isinstance(decided, RolloutDecisionRecorded)
    assert decided.decision.evidence["judgment"]["verdict"] == "Marginal"
    assert decided.decision.evidence["judgment"]["score"] == 50.0
    assert rollout.state is RolloutState.IN_PROGRESS


def test_the_judgment_is_skipped_without_a_baseline(
    make_rollout: MakeRollout, t0: datetime
) -> None:
    """A first rollout (no stable version) has nothing to compare with: the criteria decide."""
    rollout = make_rollout(
        stable_version="",
        plan=[PhaseSpec(p, 600, Criteria(judgment=LATENCY_ONLY)) for p in (10, 100)],
    )
    rollout.record_security_verdict(True, [], t0)
    rollout.record_compat_verdict(True, [], t0)
    events = rollout.evaluate(t0 + BAKE, healthy(rollout, t0))
    decided = events[0]
    assert isinstance(decided, RolloutDecisionRecorded)
    assert decided.decision.source is DecisionSource.CRITERIA
    assert decided.decision.reasons[-1] == "judgment skipped: no stable version to compare"
