"""Rollbacks beyond the plain one (a mixin of the Rollout aggregate).

A completed rollout can be taken back (a version it needs went back, or a
violation within its post-promotion window); a rollback onto a stable
version with a critical advisory pauses and asks instead (an operator's
abort is the approval); a gradual rollback steps the share down through the
phases already passed, one step per the policy's interval, before the
rolled-back state. The plain rollback, and when each of these applies, is
`Rollout.roll_back`.

The safety check is made wherever an automatic rollback would put the stable
version back: a serving rollout's rollback, each step of a gradual one, and
a completed rollout's (as a dependent, or in its post-promotion window). A
violation of a completed rollout is recorded as a request the scheduler
decides on its next pass, once it has read security's advisories for the
version the rollback would restore: the event consumer makes no network call
inside its transaction.
"""

from __future__ import annotations

import json
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

        def _move_to(self, target: RolloutState, now: datetime, detail: str) -> None: ...

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

    def request_completed_rollback(
        self,
        reason: str,
        now: datetime,
        *,
        source: DecisionSource,
        cause_event_id: str = "",
        violation_detected_at: datetime | None = None,
        evidence: Mapping[str, Any] | None = None,
    ) -> bool:
        """Records a trigger to take a completed rollout back; the scheduler decides it
        (`finish_completed_rollback`) once it has read the stable version's advisories.

        False (nothing recorded) unless it is completed with no request pending
        and no rollback held: a second trigger while one waits adds nothing.
        """
        require_aware(now, "now")
        if self.state is not RolloutState.COMPLETED or self.rolling_back or self.rollback_held:
            return False
        self.rolling_back = {
            "source": source.value,
            "reason": reason,
            "cause_event_id": cause_event_id,
            "detected_at": violation_detected_at.isoformat() if violation_detected_at else "",
            "evidence": json.dumps(dict(evidence or {}), sort_keys=True),
        }
        self.next_check_at = now
        self._note(now, "rollback_requested", reason)
        return True

    def finish_completed_rollback(self, now: datetime) -> list[RolloutEvent]:
        """Decides a requested rollback of a completed rollout: back, or held and asked."""
        require_aware(now, "now")
        request = self.rolling_back
        if self.state is not RolloutState.COMPLETED or request is None:
            return []
        self.rolling_back = None
        self.next_check_at = None
        detected = request.get("detected_at", "")
        return self.roll_back_completed(
            request["reason"],
            now,
            source=DecisionSource(request["source"]),
            cause_event_id=request.get("cause_event_id", ""),
            violation_detected_at=datetime.fromisoformat(detected) if detected else None,
            evidence=json.loads(request.get("evidence") or "{}"),
        )

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
        version it needs going back); anything but a completed rollout is left
        alone. Onto a stable version with a critical advisory an automatic
        rollback is held instead: the version keeps serving, and a HOLD
        decision asks an operator to abort it (the approval).
        """
        require_aware(now, "now")
        if self.state is not RolloutState.COMPLETED:
            return []
        document: dict[str, Any] = {"trigger": {"reason": reason, "cause_event_id": cause_event_id}}
        if violation_detected_at is not None:
            document["trigger"]["detected_at"] = violation_detected_at.isoformat()
        document |= dict(evidence or {})
        if self.stable_advisories and source is not DecisionSource.OPERATOR:
            return self._hold_rollback(reason, now, source, document)
        self.rolling_back = None
        self.next_check_at = None
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
        """True while a rollback onto the stable version awaits approval: it is paused for
        it, or (completed) it was held since the rollout completed."""
        if self.state is RolloutState.COMPLETED:
            since = self.completed_at()
        elif self.state is RolloutState.PAUSED:
            since = self.paused_at
        else:
            return False
        if since is None:
            return False
        return any(h.kind == "rollback_held" and h.at >= since for h in self.history)

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
        # Each step is checked again: security may list an advisory on the stable version
        # after the rollback began (the scheduler reads them before every step).
        if self.stable_advisories and source is not DecisionSource.OPERATOR:
            return self._hold_rollback(reason, now, source, document)
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
        users it serves keep the version (a gradual rollback stops at the
        share it reached) until an operator aborts it (the approval) or the
        advisory is gone and a trigger comes again. A completed rollout is
        not paused (it is finished): the HOLD decision is the question.
        """
        if self.rollback_held:
            return []
        wait = (
            f"rollback onto {self.stable_version} held: critical advisories"
            f" {', '.join(self.stable_advisories)}; abort the rollout to roll back anyway"
        )
        document = {**document, "stable_advisories": list(self.stable_advisories)}
        decided = self._decide(now, DecisionKind.HOLD, source, (reason, wait), document)
        if self.state is RolloutState.COMPLETED:
            self._note(now, "rollback_held", wait)
            return [decided]
        if self.state is RolloutState.IN_PROGRESS:
            self.pause(now, actor="rollout", reason=wait)
        elif self.state is RolloutState.ROLLING_BACK:
            self.rolling_back = None
            self.paused_at = now
            self._move_to(RolloutState.PAUSED, now, f"{wait}; held at {self.percent}%")
        self._note(now, "rollback_held", wait)
        paused = RolloutPaused(
            **self._identity(now),
            phase_index=self.phase_index,
            percent=self.percent,
            actor="rollout",
            reason=wait,
        )
        return [decided, paused]
