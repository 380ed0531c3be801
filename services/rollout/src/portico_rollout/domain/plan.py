"""A rollout's plan: its strategy and its phases, each with bake, criteria and approval gate.

Every strategy is a plan of phases the same state machine runs:

- canary: the given phases (default 10, 25, 50, 100), each baked and judged;
- blue-green: a preview cohort (default 5%) baked and judged, then everyone
  at once; the 100% phase is the rollback window, with the old version warm;
- rolling: equal batches of cohorts (default 4: 25, 50, 75, 100);
- instant: 100% at once, watched for its window before it completes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from portico_common import approvals
from portico_common.approvals import DeadlineAction
from portico_rollout.domain.criteria import Criteria
from portico_rollout.domain.phases import DEFAULT_PHASES, validate_phases
from portico_rollout.errors import ApprovalRefusedError, InvalidCriteriaError

DEFAULT_PREVIEW_PERCENT = 5
DEFAULT_BATCHES = 4


class Strategy(StrEnum):
    """How the new version reaches everyone; the value is what the database stores."""

    CANARY = "canary"
    BLUE_GREEN = "blue_green"
    ROLLING = "rolling"
    INSTANT = "instant"


def _invalid_gate(field: str, problem: str) -> InvalidCriteriaError:
    return InvalidCriteriaError(field, problem)


@dataclass(frozen=True)
class GateRule(approvals.ApprovalRule):
    """The kernel's N-of-M rule, as a phase's approval gate (a bad one is bad criteria)."""

    invalid_rule: ClassVar[approvals.RuleErrorFactory] = _invalid_gate


class Gate(approvals.Approval):
    """A phase's pending approval; a vote that cannot count is an ApprovalRefusedError."""

    refusal: ClassVar[type[ApprovalRefusedError]] = ApprovalRefusedError


def rule_to_json(rule: approvals.ApprovalRule) -> dict[str, Any]:
    return {
        "required": rule.required,
        "roles": list(rule.roles),
        "timeout_seconds": rule.timeout_seconds,
        "on_deadline": rule.on_deadline.value,
        "escalation_roles": list(rule.escalation_roles),
    }


def rule_from_json(data: Mapping[str, Any]) -> GateRule:
    """Reads `rule_to_json` output; a malformed rule raises InvalidCriteriaError."""
    try:
        return GateRule(
            required=int(data["required"]),
            roles=tuple(str(r) for r in data["roles"]),
            timeout_seconds=int(data["timeout_seconds"]),
            on_deadline=DeadlineAction(data["on_deadline"]),
            escalation_roles=tuple(str(r) for r in data.get("escalation_roles", ())),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidCriteriaError("approval", f"malformed rule {dict(data)!r}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class PhaseSpec:
    """One phase: its share, how long it bakes, what it must show, who must approve it."""

    percent: int
    bake_seconds: int
    criteria: Criteria = field(default_factory=Criteria)
    approval: GateRule | None = None

    def __post_init__(self) -> None:
        if self.bake_seconds < 0:
            raise InvalidCriteriaError("bake_seconds", f"{self.bake_seconds} is negative")

    def to_json(self) -> dict[str, Any]:
        return {
            "percent": self.percent,
            "bake_seconds": self.bake_seconds,
            "criteria": self.criteria.to_json(),
            "approval": None if self.approval is None else rule_to_json(self.approval),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PhaseSpec:
        try:
            rule = data.get("approval")
            return cls(
                percent=int(data["percent"]),
                bake_seconds=int(data["bake_seconds"]),
                criteria=Criteria.from_json(data.get("criteria") or {}),
                approval=rule_from_json(rule) if rule else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidCriteriaError("plan", f"malformed phase {dict(data)!r}: {exc}") from exc


def validate_plan(plan: Sequence[PhaseSpec]) -> tuple[PhaseSpec, ...]:
    """The plan as a tuple, its percentages a valid phase sequence, no gate on the first phase.

    The first phase starts the moment both checks pass; an approval before it
    is the install's approval, not a rollout gate.
    """
    result = tuple(plan)
    validate_phases([p.percent for p in result])
    if result[0].approval is not None:
        raise InvalidCriteriaError(
            "plan", "the first phase cannot have an approval gate (approve the install instead)"
        )
    return result


def plan_for(
    strategy: Strategy,
    *,
    bake_seconds: int,
    criteria: Criteria,
    phases: Sequence[int] = (),
    preview_percent: int = 0,
    watch_seconds: int = 0,
    batches: int = 0,
) -> tuple[PhaseSpec, ...]:
    """The phases a strategy makes from its parameters (zeros mean the defaults)."""
    watch = watch_seconds or bake_seconds
    match strategy:
        case Strategy.CANARY:
            percents = validate_phases(phases or DEFAULT_PHASES)
            return tuple(PhaseSpec(p, bake_seconds, criteria) for p in percents)
        case Strategy.BLUE_GREEN:
            preview = preview_percent or DEFAULT_PREVIEW_PERCENT
            if not 1 <= preview < 100:
                raise InvalidCriteriaError("preview_percent", f"{preview} is not in 1..99")
            return (PhaseSpec(preview, bake_seconds, criteria), PhaseSpec(100, watch, criteria))
        case Strategy.ROLLING:
            count = batches or DEFAULT_BATCHES
            if not 1 <= count <= 100:
                raise InvalidCriteriaError("batches", f"{count} is not in 1..100")
            batch_percents = [round(100 * i / count) for i in range(1, count + 1)]
            return tuple(PhaseSpec(p, bake_seconds, criteria) for p in batch_percents)
        case Strategy.INSTANT:
            return (PhaseSpec(100, watch, criteria),)
