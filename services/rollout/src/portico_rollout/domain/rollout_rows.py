"""A Rollout as a database row and back: columns, with history, plan and gate as JSON.

Kept apart from the aggregate so the state machine reads on its own; both
directions run the aggregate's own checks, so a corrupt row fails at load.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from portico_common.approvals import ApprovalState, Vote
from portico_rollout.domain.history import HistoryEntry
from portico_rollout.domain.plan import Gate, PhaseSpec, Strategy, rule_from_json, rule_to_json
from portico_rollout.domain.state import RolloutState
from portico_rollout.errors import InvalidRolloutError

if TYPE_CHECKING:
    from portico_rollout.domain.rollout import Rollout


def gate_to_json(gate: Gate | None) -> dict[str, Any] | None:
    if gate is None:
        return None
    return {
        "rule": rule_to_json(gate.rule),
        "deadline": gate.deadline.isoformat(),
        "state": gate.state.value,
        "escalated": gate.escalated,
        "votes": [
            {
                "approver": v.approver,
                "role": v.role,
                "approve": v.approve,
                "comment": v.comment,
                "at": v.at.isoformat(),
            }
            for v in gate.votes
        ],
    }


def gate_from_json(data: Mapping[str, Any] | None) -> Gate | None:
    if not data:
        return None
    try:
        return Gate(
            rule=rule_from_json(data["rule"]),
            deadline=datetime.fromisoformat(data["deadline"]),
            state=ApprovalState(data["state"]),
            escalated=bool(data["escalated"]),
            votes=tuple(
                Vote(
                    approver=v["approver"],
                    role=v["role"],
                    approve=bool(v["approve"]),
                    comment=v.get("comment", ""),
                    at=datetime.fromisoformat(v["at"]),
                )
                for v in data["votes"]
            ),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidRolloutError("gate", f"malformed stored gate: {exc}") from exc


def rollout_from_row(cls: type[Rollout], row: Mapping[str, Any]) -> Rollout:
    """Rebuild from a mapping shaped like `rollout_to_row` (JSON columns decoded)."""
    state = row["state"]
    try:
        parsed_state = RolloutState(state)
    except ValueError as exc:
        raise InvalidRolloutError("state", f"unknown state {state!r}") from exc
    try:
        strategy = Strategy(row.get("strategy") or Strategy.CANARY.value)
    except ValueError as exc:
        raise InvalidRolloutError("strategy", f"unknown strategy {row.get('strategy')!r}") from exc
    return cls(
        rollout_id=row["rollout_id"],
        tenant_id=row["tenant_id"],
        plugin=row["plugin"],
        version=row["version"],
        created_at=row["created_at"],
        stable_version=row["stable_version"],
        state=parsed_state,
        phases=tuple(row["phases"]),
        phase_index=row["phase_index"],
        bake_seconds=row["bake_seconds"],
        security_passed=row["security_passed"],
        compat_passed=row["compat_passed"],
        reason=row["reason"],
        phase_started_at=row["phase_started_at"],
        history=[HistoryEntry.from_json(entry) for entry in row["history"]],
        revision=row.get("revision", 0),
        strategy=strategy,
        plan=tuple(PhaseSpec.from_json(p) for p in row.get("plan") or ()),
        hold_timeout_seconds=row.get("hold_timeout_seconds", 3600),
        slo_id=row.get("slo_id", ""),
        attempt=row.get("attempt", 1),
        retry_of=row.get("retry_of", ""),
        paused_at=row.get("paused_at"),
        next_check_at=row.get("next_check_at"),
        hold_until=row.get("hold_until"),
        gate=gate_from_json(row.get("gate")),
        gate_phase=row.get("gate_phase", 0),
        decision_count=row.get("decision_count", 0),
        stable_advisories=tuple(row.get("stable_advisories") or ()),
        rollback_step_seconds=row.get("rollback_step_seconds", 0),
        rolling_back=dict(row["rolling_back"]) if row.get("rolling_back") else None,
        slo_ok_at=row.get("slo_ok_at"),
    )


def rollout_to_row(rollout: Rollout) -> dict[str, Any]:
    """Column values; enums as text, `phases` as a list, JSON columns JSON-ready."""
    return {
        "rollout_id": rollout.rollout_id,
        "tenant_id": rollout.tenant_id,
        "plugin": rollout.plugin,
        "version": rollout.version,
        "created_at": rollout.created_at,
        "stable_version": rollout.stable_version,
        "state": rollout.state.value,
        "phases": list(rollout.phases),
        "phase_index": rollout.phase_index,
        "bake_seconds": rollout.bake_seconds,
        "security_passed": rollout.security_passed,
        "compat_passed": rollout.compat_passed,
        "reason": rollout.reason,
        "phase_started_at": rollout.phase_started_at,
        "history": [entry.to_json() for entry in rollout.history],
        "revision": rollout.revision,
        "strategy": rollout.strategy.value,
        "plan": [spec.to_json() for spec in rollout.plan],
        "hold_timeout_seconds": rollout.hold_timeout_seconds,
        "slo_id": rollout.slo_id,
        "attempt": rollout.attempt,
        "retry_of": rollout.retry_of,
        "paused_at": rollout.paused_at,
        "next_check_at": rollout.next_check_at,
        "hold_until": rollout.hold_until,
        "gate": gate_to_json(rollout.gate),
        "gate_phase": rollout.gate_phase,
        "decision_count": rollout.decision_count,
        "stable_advisories": list(rollout.stable_advisories),
        "rollback_step_seconds": rollout.rollback_step_seconds,
        "rolling_back": dict(rollout.rolling_back) if rollout.rolling_back else None,
        "slo_ok_at": rollout.slo_ok_at,
    }
