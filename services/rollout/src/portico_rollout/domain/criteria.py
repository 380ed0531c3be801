"""A phase's success criteria, and what they make of the evidence: pass, hold or fail.

No data is not success. Fewer canary outcomes than `min_samples` hold the
phase (the caller fails the rollout once it held too long); a breached
threshold fails it at once. The statistical judgment runs only where there
is a baseline to compare with: a stable version serving the rest of the
users, at a share below 100%. A Fail verdict fails the phase, a Marginal one
holds it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from portico_rollout.domain.evidence import Evidence
from portico_rollout.domain.judge.config import JudgmentConfig
from portico_rollout.domain.judge.judge import Judgment, judge
from portico_rollout.domain.judge.scorer import Verdict
from portico_rollout.errors import InvalidCriteriaError

DEFAULT_MIN_SAMPLES = 20
DEFAULT_MAX_ERROR_RATE = 0.05


class Outcome(StrEnum):
    """What the criteria say about a phase."""

    PASS = "pass"  # noqa: S105 - an outcome, not a password
    HOLD = "hold"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Criteria:
    """What a phase must show, besides its bake time. None means "not judged"."""

    min_samples: int = DEFAULT_MIN_SAMPLES
    max_error_rate: float | None = DEFAULT_MAX_ERROR_RATE
    max_p95_latency_ms: int | None = None
    max_p99_latency_ms: int | None = None
    max_burn_rate: float | None = None
    judgment: JudgmentConfig | None = None

    def __post_init__(self) -> None:
        if self.min_samples < 0:
            raise InvalidCriteriaError("min_samples", f"{self.min_samples} is negative")
        rate = self.max_error_rate
        if rate is not None and not (math.isfinite(rate) and 0 <= rate <= 1):
            raise InvalidCriteriaError("max_error_rate", f"{rate} is not in [0, 1]")
        for name in ("max_p95_latency_ms", "max_p99_latency_ms"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise InvalidCriteriaError(name, f"{value} is not positive")
        burn = self.max_burn_rate
        if burn is not None and not (math.isfinite(burn) and burn > 0):
            raise InvalidCriteriaError("max_burn_rate", f"{burn} is not positive")

    def to_json(self) -> dict[str, Any]:
        return {
            "min_samples": self.min_samples,
            "max_error_rate": self.max_error_rate,
            "max_p95_latency_ms": self.max_p95_latency_ms,
            "max_p99_latency_ms": self.max_p99_latency_ms,
            "max_burn_rate": self.max_burn_rate,
            "judgment": self.judgment.to_json() if self.judgment is not None else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Criteria:
        try:
            judgment = data.get("judgment")
            return cls(
                min_samples=int(data.get("min_samples", DEFAULT_MIN_SAMPLES)),
                max_error_rate=_float(data.get("max_error_rate")),
                max_p95_latency_ms=_int(data.get("max_p95_latency_ms")),
                max_p99_latency_ms=_int(data.get("max_p99_latency_ms")),
                max_burn_rate=_float(data.get("max_burn_rate")),
                judgment=JudgmentConfig.from_json(judgment) if judgment else None,
            )
        except (TypeError, ValueError) as exc:
            raise InvalidCriteriaError("criteria", f"malformed {dict(data)!r}: {exc}") from exc


def _float(value: object) -> float | None:
    return None if value is None else float(str(value))


def _int(value: object) -> int | None:
    return None if value is None else int(str(value))


@dataclass(frozen=True, slots=True)
class Assessment:
    """The criteria's outcome, which part decided it, why, and the judgment if one ran."""

    outcome: Outcome
    # "criteria" or "judgment".
    source: str
    reasons: tuple[str, ...]
    judgment: Judgment | None = None
    # A hold that waits only for more canary outcomes (fewer than min_samples), as
    # opposed to one on a marginal judgment of enough of them.
    awaiting_samples: bool = False


def assess(criteria: Criteria, evidence: Evidence, *, percent: int) -> Assessment:
    """Judges the evidence of a phase at `percent` against its criteria."""
    canary = evidence.canary
    if canary.total < criteria.min_samples:
        return Assessment(
            Outcome.HOLD,
            "criteria",
            (f"not enough samples: {canary.total} of {criteria.min_samples} canary outcomes",),
            awaiting_samples=True,
        )
    breaches = _breaches(criteria, evidence)
    if breaches:
        return Assessment(Outcome.FAIL, "criteria", tuple(breaches))
    passed = _passed(criteria, evidence)
    if criteria.judgment is None:
        return Assessment(Outcome.PASS, "criteria", passed)
    if percent >= 100 or evidence.baseline is None:
        why = "at 100% no baseline serves" if percent >= 100 else "no stable version to compare"
        return Assessment(Outcome.PASS, "criteria", (*passed, f"judgment skipped: {why}"))
    return _judged(criteria.judgment, evidence, passed)


def _judged(config: JudgmentConfig, evidence: Evidence, passed: tuple[str, ...]) -> Assessment:
    """The statistical judgment's say: Fail fails, Marginal holds, Pass passes."""
    result = judge(config, {m.name: evidence.samples(m.name) for m in config.metrics})
    reason = f"judgment {result.reason}"
    outcome = {Verdict.FAIL: Outcome.FAIL, Verdict.MARGINAL: Outcome.HOLD}.get(
        result.verdict, Outcome.PASS
    )
    reasons = (*passed, reason) if outcome is Outcome.PASS else (reason,)
    return Assessment(outcome, "judgment", reasons, result)


def _breaches(criteria: Criteria, evidence: Evidence) -> list[str]:
    canary = evidence.canary
    found = []
    if criteria.max_error_rate is not None and canary.error_rate > criteria.max_error_rate:
        found.append(
            f"error rate {canary.error_rate:.2%} above {criteria.max_error_rate:.2%}"
            f" ({canary.errors} of {canary.total})"
        )
    if (
        criteria.max_p95_latency_ms is not None
        and canary.latency_p95_ms > criteria.max_p95_latency_ms
    ):
        found.append(
            f"p95 latency {canary.latency_p95_ms:g} ms above {criteria.max_p95_latency_ms} ms"
        )
    if (
        criteria.max_p99_latency_ms is not None
        and canary.latency_p99_ms > criteria.max_p99_latency_ms
    ):
        found.append(
            f"p99 latency {canary.latency_p99_ms:g} ms above {criteria.max_p99_latency_ms} ms"
        )
    if criteria.max_burn_rate is not None and canary.burn_rate > criteria.max_burn_rate:
        found.append(f"SLO burn rate {canary.burn_rate:.2f}x above {criteria.max_burn_rate:g}x")
    return found


def _passed(criteria: Criteria, evidence: Evidence) -> tuple[str, ...]:
    canary = evidence.canary
    held = [f"{canary.total} samples (at least {criteria.min_samples})"]
    if criteria.max_error_rate is not None:
        held.append(f"error rate {canary.error_rate:.2%} (at most {criteria.max_error_rate:.2%})")
    if criteria.max_p95_latency_ms is not None:
        held.append(f"p95 {canary.latency_p95_ms:g} ms (at most {criteria.max_p95_latency_ms})")
    if criteria.max_p99_latency_ms is not None:
        held.append(f"p99 {canary.latency_p99_ms:g} ms (at most {criteria.max_p99_latency_ms})")
    if criteria.max_burn_rate is not None:
        held.append(f"burn rate {canary.burn_rate:.2f}x (at most {criteria.max_burn_rate:g}x)")
    return tuple(held)
