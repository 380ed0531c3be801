"""Operator controls and approval gates of a rollout (a mixin of the Rollout aggregate).

Pause stops the share from changing (a violation still rolls back); resume
lets the phase bake for what was left of its bake. Promote skips the current
phase's bake and criteria, to the next phase or the 100% phase; a gate on the
way still holds (it opens, and the rollout waits). Abort rolls back; on a
completed rollout whose rollback is held by the safety check it is the
approval that takes it back. A gate's vote or deadline moves the rollout on,
or rolls it back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from portico_common.approvals import ApprovalState, Step
from portico_rollout.domain._time import require_aware
from portico_rollout.domain.decisions import DecisionKind, DecisionSource
from portico_rollout.domain.plan import Gate, PhaseSpec
from portico_rollout.domain.state import RolloutState
from portico_rollout.errors import ApprovalRefusedError, InvalidTransitionError

if TYPE_CHECKING:
    from portico_rollout.domain.events import RolloutDecisionRecorded, RolloutEvent


class Controls:
    """What operators and approvers do to a rollout; mixed into `Rollout`."""

    # Provided by Rollout (its fields and internals), declared for the type checker.
    rollout_id: str
    state: RolloutState
    phase_index: int
    phases: tuple[int, ...]
    plan: tuple[PhaseSpec, ...]
    paused_at: datetime | None
    next_check_at: datetime | None
    hold_until: datetime | None
    gate: Gate | None
    gate_phase: int

    # The aggregate's own methods, which these call; only the type checker sees them.
    if TYPE_CHECKING:

        @property
        def percent(self) -> int: ...

        @property
        def awaiting_approval(self) -> bool: ...

        @property
        def rollback_held(self) -> bool: ...

        def roll_back_completed(
            self,
            reason: str,
            now: datetime,
            *,
            source: DecisionSource,
            cause_event_id: str = "",
            violation_detected_at: datetime | None = None,
            cause_rollout_id: str = "",
            evidence: Mapping[str, Any] | None = None,
        ) -> list[RolloutEvent]: ...

        def roll_back(
            self,
            reason: str,
            now: datetime,
            *,
            source: DecisionSource = DecisionSource.SLO,
            evidence: Mapping[str, Any] | None = None,
        ) -> list[RolloutEvent]: ...

        def _advance(self, now: datetime) -> list[RolloutEvent]: ...

        def _move_to(self, target: RolloutState, now: datetime, detail: str) -> None: ...

        def _note(self, now: datetime, kind: str, detail: str) -> None: ...

        def _decide(
            self,
            now: datetime,
            kind: DecisionKind,
            source: DecisionSource,
            reasons: Sequence[str],
            evidence: Mapping[str, Any],
            *,
            to_percent: int | None = None,
        ) -> RolloutDecisionRecorded: ...

    # -- pause and resume ------------------------------------------------------------

    def pause(self, now: datetime, *, actor: str, reason: str) -> bool:
        """Holds the share where it is; False if it was paused already."""
        require_aware(now, "now")
        if self.state is RolloutState.PAUSED:
            return False
        if self.state is not RolloutState.IN_PROGRESS:
            raise InvalidTransitionError(self.rollout_id, self.state.value, "PAUSED")
        self.paused_at = now
        self._move_to(RolloutState.PAUSED, now, _by(actor, reason, f"held at {self.percent}%"))
        return True

    def resume(self, now: datetime, *, actor: str, reason: str) -> bool:
        """Lets it go on; its check and hold deadline move by the time it was paused."""
        require_aware(now, "now")
        if self.state is RolloutState.IN_PROGRESS:
            return False
        if self.state is not RolloutState.PAUSED or self.paused_at is None:
            raise InvalidTransitionError(self.rollout_id, self.state.value, "IN_PROGRESS")
        paused_for = max(now - self.paused_at, timedelta(0))
        if self.next_check_at is not None:
            self.next_check_at += paused_for
        if self.hold_until is not None:
            self.hold_until += paused_for
        self.paused_at = None
        self._move_to(RolloutState.IN_PROGRESS, now, _by(actor, reason, f"at {self.percent}%"))
        return True

    # -- promote and abort -----------------------------------------------------------

    def promote(self, now: datetime, *, full: bool, actor: str, reason: str) -> list[RolloutEvent]:
        """Skips to the next phase (or the 100% phase), stopping at a gate not yet approved."""
        require_aware(now, "now")
        if not self.state.serves or self.state is RolloutState.ROLLING_BACK:
            raise InvalidTransitionError(self.rollout_id, self.state.value, "promoted")
        if self.awaiting_approval:
            raise InvalidTransitionError(
                self.rollout_id,
                self.state.value,
                f"phase {self.gate_phase} (it awaits its approval gate)",
            )
        if self.state is RolloutState.PAUSED:
            self.resume(now, actor=actor, reason=reason)
        trigger = {"trigger": {"actor": actor, "reason": reason, "full": full}}
        events: list[RolloutEvent] = []
        while True:
            following = self.phase_index + 1
            rule = self.plan[following].approval if following < len(self.plan) else None
            if rule is not None:
                self.gate, self.gate_phase = Gate.open(rule, now), following
                roles = ", ".join(rule.roles)
                wait = f"phase {following} awaits {rule.required} approval(s) by {roles}"
                self._note(now, "approval_requested", wait)
                why: tuple[str, ...] = (_by(actor, reason, "promoted"), wait)
                events.append(
                    self._decide(now, DecisionKind.HOLD, DecisionSource.APPROVAL, why, trigger)
                )
                return events
            to = self.phases[following] if following < len(self.phases) else 100
            why = (_by(actor, reason, f"promoted to {to}%"),)
            events.append(
                self._decide(
                    now, DecisionKind.ADVANCE, DecisionSource.OPERATOR, why, trigger, to_percent=to
                )
            )
            events += self._advance(now)
            if not full or self.state is RolloutState.COMPLETED or self.percent == 100:
                return events

    def abort(self, now: datetime, *, actor: str, reason: str) -> list[RolloutEvent]:
        """Rolls back (before the start: refuses); a finished rollout cannot be aborted,
        except a completed one whose rollback the safety check holds: the operator's
        abort is the approval, and the version it replaced serves again."""
        evidence = {"operator": {"actor": actor, "reason": reason}}
        if self.state is RolloutState.COMPLETED and self.rollback_held:
            return self.roll_back_completed(
                _by(actor, reason, "aborted"),
                now,
                source=DecisionSource.OPERATOR,
                evidence=evidence,
            )
        if self.state.is_terminal:
            raise InvalidTransitionError(self.rollout_id, self.state.value, "aborted")
        return self.roll_back(
            _by(actor, reason, "aborted"),
            now,
            source=DecisionSource.OPERATOR,
            evidence=evidence,
        )

    # -- approval gates --------------------------------------------------------------

    def decide_gate(
        self,
        phase_index: int,
        *,
        approver: str,
        role: str,
        approve: bool,
        comment: str,
        now: datetime,
    ) -> tuple[list[RolloutEvent], Step]:
        """Counts one approver's vote on the gate of `phase_index`."""
        require_aware(now, "now")
        if self.gate is None or self.gate_phase != phase_index or not self.state.serves:
            raise ApprovalRefusedError(
                f"phase {phase_index} of {self.rollout_id} awaits no approval"
            )
        self.gate, step = self.gate.vote(approver, role, approve=approve, comment=comment, now=now)
        if step is Step.DUPLICATE:
            return [], step
        verdict = "approved" if approve else "rejected"
        self._note(now, f"approval_{verdict}", f"{approver} as {role}: {comment or verdict}")
        return self._gate_moved(now, f"{approver} ({role})"), step

    def on_gate_time(self, now: datetime) -> list[RolloutEvent]:
        """At the gate's deadline: escalate, auto-approve, or expire (rolling back)."""
        require_aware(now, "now")
        if self.gate is None or self.state is not RolloutState.IN_PROGRESS:
            return []
        self.gate, step = self.gate.on_time(now)
        if step is None:
            return []
        if step is Step.ESCALATED:
            roles = ", ".join(self.gate.eligible_roles)
            self._note(now, "approval_escalated", f"deadline passed; now {roles} decide")
            return []
        return self._gate_moved(now, "the deadline")

    def _gate_moved(self, now: datetime, by: str) -> list[RolloutEvent]:
        gate = self.gate
        if gate is None:  # pragma: no cover - callers hold a gate
            return []
        document = {"approval": _gate_document(gate, self.gate_phase)}
        if gate.state is ApprovalState.APPROVED:
            why = (f"phase {self.gate_phase} approved by {by}",)
            decided = self._decide(
                now,
                DecisionKind.ADVANCE,
                DecisionSource.APPROVAL,
                why,
                document,
                to_percent=self.phases[self.gate_phase],
            )
            return [decided, *self._advance(now)]
        if gate.state in (ApprovalState.REJECTED, ApprovalState.EXPIRED):
            verb = "rejected" if gate.state is ApprovalState.REJECTED else "not approved in time"
            return self.roll_back(
                f"phase {self.gate_phase} {verb} ({by})",
                now,
                source=DecisionSource.APPROVAL,
                evidence=document,
            )
        return []  # recorded; more approvals needed


def _by(actor: str, reason: str, what: str) -> str:
    return f"{what} by {actor or 'an operator'}" + (f": {reason}" if reason else "")


def _gate_document(gate: Gate, phase_index: int) -> dict[str, Any]:
    return {
        "phase_index": phase_index,
        "required": gate.rule.required,
        "roles": list(gate.eligible_roles),
        "deadline": gate.deadline.isoformat(),
        "state": gate.state.value,
        "votes": [
            {"approver": v.approver, "role": v.role, "approve": v.approve, "at": v.at.isoformat()}
            for v in gate.votes
        ],
    }
