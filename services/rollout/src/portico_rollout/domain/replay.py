"""Replaying a rollout's decisions from their stored evidence under other criteria.

Each decision made on evidence is judged again, on exactly the outcomes it
was made on, with the replacement criteria (and hold timeout): what would
these thresholds have done at that moment? The judgment is deterministic, so
the same replay always answers the same. Only what the evidence decided is
replayed: operator, violation, check and gate decisions stay as they were.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from portico_rollout.domain.criteria import Criteria, Outcome, assess
from portico_rollout.domain.decisions import Decision, DecisionKind, DecisionSource
from portico_rollout.domain.evidence import Evidence
from portico_rollout.domain.judge.judge import Judgment
from portico_rollout.errors import InvalidRolloutError


@dataclass(frozen=True, slots=True)
class Replayed:
    """One stored decision and what the replay's criteria make of its evidence."""

    original: Decision
    kind: DecisionKind
    reasons: tuple[str, ...]
    judgment: Judgment | None
    differs: bool


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """Every replayed decision, how many differ, and where the replay would have ended."""

    decisions: tuple[Replayed, ...]
    differing: int
    outcome: str
    summary: str


def replay(
    decisions: Sequence[Decision],
    *,
    criteria: Criteria | None = None,
    phase_criteria: Mapping[int, Criteria] | None = None,
    hold_timeout_seconds: int = 0,
) -> ReplayResult:
    """Judges each decision made on evidence again; changes nothing anywhere."""
    replayed = tuple(
        _again(d, criteria, phase_criteria or {}, hold_timeout_seconds)
        for d in decisions
        if d.on_evidence
    )
    differing = sum(r.differs for r in replayed)
    failed = next((r for r in replayed if r.kind is DecisionKind.FAIL), None)
    if failed is not None:
        at = failed.original
        outcome = "failed"
        summary = (
            f"would have failed in phase {at.phase_index} ({at.percent}%) at"
            f" {at.at.isoformat()}: {'; '.join(failed.reasons)}"
        )
    elif replayed and replayed[-1].kind is DecisionKind.HOLD:
        outcome, summary = "held", f"would still hold phase {replayed[-1].original.phase_index}"
    else:
        outcome, summary = "advanced", "every judged phase would have advanced"
    if not replayed:
        summary = "no decision was made on evidence: nothing to replay"
    return ReplayResult(replayed, differing, outcome, summary)


def _again(
    decision: Decision,
    criteria: Criteria | None,
    phase_criteria: Mapping[int, Criteria],
    hold_timeout_seconds: int,
) -> Replayed:
    document = decision.evidence
    phase = _mapping(document.get("phase"))
    used = phase_criteria.get(decision.phase_index) or criteria
    if used is None:
        used = Criteria.from_json(_mapping(document.get("criteria")))
    evidence = Evidence.from_json(document)
    assessment = assess(used, evidence, percent=int(phase.get("percent", decision.percent)))
    kind = {
        Outcome.PASS: DecisionKind.ADVANCE,
        Outcome.HOLD: DecisionKind.HOLD,
        Outcome.FAIL: DecisionKind.FAIL,
    }[assessment.outcome]
    reasons = assessment.reasons
    if kind is DecisionKind.HOLD and decision.at >= _hold_until(phase, hold_timeout_seconds):
        kind = DecisionKind.FAIL
        reasons = ("held past the hold timeout", *reasons)
    # Criteria that passed into an approval gate held only for the gate.
    original = (
        DecisionKind.ADVANCE
        if decision.source is DecisionSource.APPROVAL and document.get("outcome") == "pass"
        else decision.kind
    )
    return Replayed(decision, kind, reasons, assessment.judgment, kind is not original)


def _hold_until(phase: Mapping[str, Any], hold_timeout_seconds: int) -> datetime:
    try:
        started = datetime.fromisoformat(phase["started_at"])
        timeout = hold_timeout_seconds or int(phase["hold_timeout_seconds"])
        return started + timedelta(seconds=int(phase["bake_seconds"]) + timeout)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidRolloutError("evidence", f"a stored phase is malformed: {exc}") from exc


def _mapping(value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidRolloutError("evidence", "a stored decision lacks its phase or criteria")
    return value
