"""Decisions: every advance, hold, failure and rollback, with the evidence behind it.

A decision's evidence is a JSON document: the phase it was made in, the
criteria it applied, the canary's and baseline's outcomes and the judgment
(for decisions on evidence), or the trigger (a violation, an operator, a
check, a gate). ReplayRollout re-runs the decisions on evidence from exactly
these documents, so nothing a decision depended on is left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from portico_rollout.domain._time import require_aware
from portico_rollout.errors import InvalidRolloutError


class DecisionKind(StrEnum):
    """What a decision did; the value is what the database stores."""

    ADVANCE = "advance"
    HOLD = "hold"
    FAIL = "fail"
    ROLLBACK = "rollback"


class DecisionSource(StrEnum):
    """What made the decision."""

    CRITERIA = "criteria"
    JUDGMENT = "judgment"
    SLO = "slo"
    OPERATOR = "operator"
    APPROVAL = "approval"
    CHECKS = "checks"
    # A version this rollout's version needs was rolled back.
    DEPENDENCY = "dependency"


@dataclass(frozen=True, slots=True)
class Decision:
    """One decision of one rollout; `seq` numbers a rollout's decisions from 1."""

    tenant_id: str
    rollout_id: str
    seq: int
    at: datetime
    kind: DecisionKind
    source: DecisionSource
    phase_index: int
    percent: int
    to_percent: int
    reasons: tuple[str, ...]
    evidence: Mapping[str, Any] = field(default_factory=dict)
    attempt: int = 1

    def __post_init__(self) -> None:
        require_aware(self.at, "decision time")
        if self.seq < 1:
            raise InvalidRolloutError("decision", f"sequence {self.seq} is not positive")

    @property
    def decision_id(self) -> str:
        return f"{self.rollout_id}-d{self.seq}"

    @property
    def on_evidence(self) -> bool:
        """Whether it judged outcomes under criteria (so a replay can judge them again).

        A phase that passed into an approval gate was judged too: its decision
        is the gate's hold, with the evidence it passed on.
        """
        return bool(self.evidence.get("canary")) and "criteria" in self.evidence


def kinds(decisions: Sequence[Decision]) -> list[str]:
    """`kind:source` of each decision, for logs and tests."""
    return [f"{d.kind.value}:{d.source.value}" for d in decisions]
