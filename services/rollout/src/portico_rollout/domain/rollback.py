"""Rollbacks beyond the plain one (a mixin of the Rollout aggregate).

A completed rollout can be taken back (a version it needs went back, or a
violation within its post-promotion window); a rollback onto a stable
version with a critical advisory pauses and asks instead (an operator's
abort is the approval); a gradual rollback steps the share down through the
phases already passed, one step per the policy's interval, before the
rolled-back state. The plain rollback, and when each of these applies, is
`Rollout.roll_back`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from portico_rollout.domain._time import require_aware
from portico_rollout.domain.decisions import DecisionKind, DecisionSource
from portico_rollout.domain.events import RolloutPaused
from portico_rollout.domain.history import HistoryEntry
from portico_rollout.domain.state import RolloutState

if TYPE_CHECKING:
    from portico_rollout.domain.events import (
        RolloutDecisionRecorded,
        RolloutEvent,
        RolloutRolledBack,
    )
    from portico_rollout.domain.rollout import _Identity


class Rollback:
    """Dependent, post-completion, held and gradual rollbacks; mixed into `Rollout`."""

    # Provided by Rollout (its fields and internals), declared for the type checker.
    state: RolloutState
    phase_index: int
    phases: tuple[int, ...]
    stable_version: str
    paused_at: datetime | None
    next_check_at: datetime | None
    history: list[HistoryEntry]
    stable_advisories: tuple[str, ...]
    rollback_step_seconds: int
    rolling_back: dict[str, str] | None

    # The aggregate's own methods, which these call; only the type checker sees them,
    # so at run time nothing here can stand in for Rollout's.
    if TYPE_CHECKING:

        @property
        def percent(self) -> int: ...

        def roll_back(
            self,
            reason: str,
            now: datetime,
            cause_event_id: str = "",
            violation_detected_at: datetime | None = None,
            *,
            source: DecisionSource = DecisionSource.SLO,
            evidence: Mapping[str, Any] | None = None,
        ) -> list[RolloutEvent]: ...

        def pause(self, now: datetime, *, actor: str, reason: str) -> bool: ...

        def _rolled_back(
            self, reason: str, now: datetime, cause_event_id: str, detected_at: datetime | None
        ) -> list[RolloutRolledBack]: ...

        def _note(self, now: datetime, kind: str, detail: str) -> None: ...

        def _identity(self, now: datetime) -> _Identity: ...

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

    def roll_back_as_dependent(
        self, needs: str, cause_rollout_id: str, now: datetime
    ) -> list[RolloutEvent]:
        """Goes back because `needs` (a "plugin@version" it needs) was rolled back.

        A rollout serving users rolls back as on a violation; a completed one
        too (its stable version goes back to the one it replaced), since the
        version it runs on no longer serves. Anything else changes nothing.
        """
        require_aware(now, "now")
        reason = f"needs {needs}, rolled back by rollout {cause_rollout_id}"
        evidence = {"dependency": {"needs": needs, "rollout_id": cause_rollout_id}}
        if self.state.serves:
            return self.roll_back(reason, now, source=DecisionSource.DEPENDENCY, evidence=evidence)
        return self.roll_back_completed(
            reason,
            now,
            source=DecisionSource.DEPENDENCY,
            cause_rollout_id=cause_rollout_id,
            evidence=evidence,
        )

    def completed_at(self) -> datetime | None:
        """When it completed (from its history); None unless it is completed."""
        if self.state is not RolloutState.COMPLETED:
            return None
        return next((h.at for h in reversed(self.history) if h.kind == "completed"), None)

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
    ) -> list[RolloutEvent]:
        """Takes a completed rollout back: the stable version it replaced serves again.

        The caller decides whether it still may (the post-promotion window, a
        version it needs going back); anything but a completed rollout is left alone.
        """
        require_aware(now, "now")
        if self.state is not RolloutState.COMPLETED:
            return []
        document: dict[str, Any] = {"trigger": {"reason": reason, "cause_event_id": cause_event_id}}
        if violation_detected_at is not None:
            document["trigger"]["detected_at"] = violation_detected_at.isoformat()
        document |= dict(evidence or {})
        decided = self._decide(now, DecisionKind.ROLLBACK, source, (reason,), document)
        [rolled_back] = self._rolled_back(reason, now, cause_event_id, violation_detected_at)
        return [
            decided,
            replace(rolled_back, cause_rollout_id=cause_rollout_id, after_completion=True),
        ]

    def note_stable_advisories(self, advisories: Sequence[str], now: datetime) -> bool:
        """Records the stable version's critical advisories as security now lists them."""
        found = tuple(sorted(set(advisories)))
        if found == self.stable_advisories:
            return False
        self.stable_advisories = found
        listed = ", ".join(found) or "none"
        self._note(
            now, "stable_advisories", f"critical advisories on {self.stable_version}: {listed}"
        )
        return True

    @property
    def rollback_held(self) -> bool:
        """True while it is paused because a rollback onto the stable version awaits approval."""
        if self.state is not RolloutState.PAUSED or self.paused_at is None:
            return False
        paused_at = self.paused_at
        return any(h.kind == "rollback_held" and h.at >= paused_at for h in self.history)

    def step_down(self, now: datetime) -> list[RolloutEvent]:
        """The next step of a gradual rollback once due: a smaller share, or none at all."""
        require_aware(now, "now")
        if self.state is not RolloutState.ROLLING_BACK or self.rolling_back is None:
            return []
        if self.next_check_at is not None and now < self.next_check_at:
            return []
        source = DecisionSource(self.rolling_back["source"])
        reason = self.rolling_back["reason"]
        document = {"trigger": {"reason": reason, "gradual": True}}
        if self.phase_index > 0:
            return [self._step_down(now, source, reason, document)]
        decided = self._decide(now, DecisionKind.ROLLBACK, source, (reason,), document)
        cause = self.rolling_back.get("cause_event_id", "")
        return [decided, *self._rolled_back(reason, now, cause, None)]

    # -- internals (of these rollbacks) -----------------------------------------------

    def _step_down(
        self, now: datetime, source: DecisionSource, reason: str, document: Mapping[str, Any]
    ) -> RolloutDecisionRecorded:
        """One phase back, decided and noted; the next step is due after the policy's pause."""
        to = self.phases[self.phase_index - 1]
        why = (reason, f"gradual rollback: {self.percent}% -> {to}%")
        decided = self._decide(now, DecisionKind.ROLLBACK, source, why, document, to_percent=to)
        self.phase_index -= 1
        self.next_check_at = now + timedelta(seconds=self.rollback_step_seconds)
        self._note(now, "stepped_down", f"to {self.percent}%")
        return decided

    def _hold_rollback(
        self, reason: str, now: datetime, source: DecisionSource, document: Mapping[str, Any]
    ) -> list[RolloutEvent]:
        """Pauses instead of rolling back onto a stable version with a critical advisory.

        Asked once: a further trigger while it waits changes nothing. The
        users it serves keep the version until an operator aborts it (the
        approval) or the advisory is gone and a trigger comes again.
        """
        if self.rollback_held:
            return []
        wait = (
            f"rollback onto {self.stable_version} held: critical advisories"
            f" {', '.join(self.stable_advisories)}; abort the rollout to roll back anyway"
        )
        document = {**document, "stable_advisories": list(self.stable_advisories)}
        decided = self._decide(now, DecisionKind.HOLD, source, (reason, wait), document)
        if self.state is RolloutState.IN_PROGRESS:
            self.pause(now, actor="rollout", reason=wait)
        self._note(now, "rollback_held", wait)
        paused = RolloutPaused(
            **self._identity(now),
            phase_index=self.phase_index,
            percent=self.percent,
            actor="rollout",
            reason=wait,
        )
        return [decided, paused]
