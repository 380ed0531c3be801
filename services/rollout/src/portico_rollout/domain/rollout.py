"""The Rollout aggregate: a canary for one plugin version of one tenant.

It is a plain dataclass so the repository can store it as columns plus a
JSONB history and rebuild it with `from_row`. Every command method takes the
current time and returns the domain events it caused; an empty list means
nothing changed, which is how redelivered or late events stay harmless.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, TypedDict

from portico_rollout.domain._time import require_aware
from portico_rollout.domain.events import (
    RolloutCompleted,
    RolloutEvent,
    RolloutPhaseAdvanced,
    RolloutRefused,
    RolloutRolledBack,
    RolloutStarted,
)
from portico_rollout.domain.history import HistoryEntry
from portico_rollout.domain.phases import DEFAULT_PHASES, validate_phases
from portico_rollout.domain.state import RolloutState
from portico_rollout.errors import InvalidRolloutError, InvalidTransitionError

DEFAULT_BAKE_SECONDS = 300

_Check = Literal["security", "compat"]


class _Identity(TypedDict):
    """The fields every event shares, typed so a misspelt key fails mypy."""

    tenant_id: str
    rollout_id: str
    plugin: str
    version: str
    occurred_at: datetime


@dataclass
class Rollout:
    """A persisted canary state machine; see the module docstring."""

    rollout_id: str
    tenant_id: str
    plugin: str
    version: str
    created_at: datetime
    stable_version: str = ""
    state: RolloutState = RolloutState.AWAITING_CHECKS
    phases: tuple[int, ...] = DEFAULT_PHASES
    phase_index: int = 0
    bake_seconds: int = DEFAULT_BAKE_SECONDS
    security_passed: bool | None = None
    compat_passed: bool | None = None
    reason: str = ""
    phase_started_at: datetime | None = None
    history: list[HistoryEntry] = field(default_factory=list)
    # Owned by the repository: it saves with "WHERE revision = loaded" and bumps it.
    revision: int = 0

    def __post_init__(self) -> None:
        # The same checks guard a new request and a row read back, so a corrupt
        # row fails loudly at load rather than halfway through a transition.
        for name in ("rollout_id", "tenant_id", "plugin", "version"):
            if not getattr(self, name):
                raise InvalidRolloutError(name, "must not be empty")
        if self.version == self.stable_version:
            raise InvalidRolloutError("version", f"{self.version} is already the stable version")
        self.phases = validate_phases(self.phases)
        if not 0 <= self.phase_index < len(self.phases):
            raise InvalidRolloutError("phase_index", f"{self.phase_index} is not a phase")
        if self.bake_seconds < 0:
            raise InvalidRolloutError("bake_seconds", f"{self.bake_seconds} is negative")
        if self.revision < 0:
            raise InvalidRolloutError("revision", f"{self.revision} is negative")
        require_aware(self.created_at, "created_at")
        if self.phase_started_at is not None:
            require_aware(self.phase_started_at, "phase_started_at")
        elif self.state is RolloutState.IN_PROGRESS:
            raise InvalidRolloutError("phase_started_at", "a rollout in progress needs it")

    # -- construction and persistence ------------------------------------------------

    @classmethod
    def request(
        cls,
        *,
        rollout_id: str,
        tenant_id: str,
        plugin: str,
        version: str,
        now: datetime,
        stable_version: str = "",
        phases: Sequence[int] = DEFAULT_PHASES,
        bake_seconds: int = DEFAULT_BAKE_SECONDS,
    ) -> Rollout:
        """A new rollout waiting for the security and compat verdicts."""
        valid_phases = validate_phases(phases)
        detail = (
            f"{plugin}@{version} over {stable_version or 'no stable version'}, "
            f"phases {'/'.join(map(str, valid_phases))}%, bake {bake_seconds}s"
        )
        return cls(
            rollout_id=rollout_id,
            tenant_id=tenant_id,
            plugin=plugin,
            version=version,
            created_at=require_aware(now, "now"),
            stable_version=stable_version,
            phases=valid_phases,
            bake_seconds=bake_seconds,
            history=[HistoryEntry(at=now, kind="requested", detail=detail)],
        )

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Rollout:
        """Rebuild from a mapping shaped like `to_row` (history as decoded JSON)."""
        state = row["state"]
        try:
            parsed_state = RolloutState(state)
        except ValueError as exc:
            raise InvalidRolloutError("state", f"unknown state {state!r}") from exc
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
        )

    def to_row(self) -> dict[str, Any]:
        """Column values; `state` as text, `phases` as a list, `history` JSON-ready."""
        return {
            "rollout_id": self.rollout_id,
            "tenant_id": self.tenant_id,
            "plugin": self.plugin,
            "version": self.version,
            "created_at": self.created_at,
            "stable_version": self.stable_version,
            "state": self.state.value,
            "phases": list(self.phases),
            "phase_index": self.phase_index,
            "bake_seconds": self.bake_seconds,
            "security_passed": self.security_passed,
            "compat_passed": self.compat_passed,
            "reason": self.reason,
            "phase_started_at": self.phase_started_at,
            "history": [entry.to_json() for entry in self.history],
            "revision": self.revision,
        }

    # -- queries ---------------------------------------------------------------------

    @property
    def percent(self) -> int:
        """The share of users served the new version right now."""
        if self.state is RolloutState.COMPLETED:
            return 100
        if self.state is RolloutState.IN_PROGRESS:
            return self.phases[self.phase_index]
        return 0

    def due_at(self) -> datetime | None:
        """When the current phase has baked; None unless the rollout is in progress."""
        if self.state is not RolloutState.IN_PROGRESS or self.phase_started_at is None:
            return None
        return self.phase_started_at + timedelta(seconds=self.bake_seconds)

    # -- commands --------------------------------------------------------------------

    def record_security_verdict(
        self, passed: bool, reasons: Sequence[str], now: datetime
    ) -> list[RolloutEvent]:
        """Take the security verdict; see `_record_verdict`."""
        return self._record_verdict("security", passed, reasons, now)

    def record_compat_verdict(
        self, passed: bool, reasons: Sequence[str], now: datetime
    ) -> list[RolloutEvent]:
        """Take the compat verdict; see `_record_verdict`."""
        return self._record_verdict("compat", passed, reasons, now)

    def advance_if_baked(self, now: datetime) -> list[RolloutEvent]:
        """Move one step if the current phase has baked: the next phase, or completion.

        The 100% phase bakes too before the rollout completes, so a fault that
        only shows at full load can still roll it back. One step per call keeps
        a late scheduler from skipping phases: each new phase bakes from `now`.
        """
        require_aware(now, "now")
        due = self.due_at()
        if due is None or now < due:
            return []
        if self.phase_index + 1 < len(self.phases):
            self.phase_index += 1
            self.phase_started_at = now
            self._note(now, "phase_advanced", f"phase {self.phase_index} at {self.percent}%")
            return [
                RolloutPhaseAdvanced(
                    **self._identity(now), phase_index=self.phase_index, percent=self.percent
                )
            ]
        self._move_to(RolloutState.COMPLETED, now, f"{self.version} serves 100%")
        return [RolloutCompleted(**self._identity(now))]

    def roll_back(
        self,
        reason: str,
        now: datetime,
        cause_event_id: str = "",
        violation_detected_at: datetime | None = None,
    ) -> list[RolloutEvent]:
        """Put traffic back on the stable version.

        Before the checks finish no user has the version, so there is nothing to
        roll back: the rollout is refused instead, which stops it from starting
        when the last verdict arrives. Once terminal, nothing happens and no
        error is raised, because a violation can arrive late or twice.
        """
        require_aware(now, "now")
        if violation_detected_at is not None:
            require_aware(violation_detected_at, "violation_detected_at")
        if not reason:
            raise InvalidRolloutError("reason", "a rollback needs a reason")
        if self.state is RolloutState.AWAITING_CHECKS:
            return self._refuse((reason,), now)
        if self.state is not RolloutState.IN_PROGRESS:
            return []
        cause = f" (cause {cause_event_id})" if cause_event_id else ""
        self._move_to(RolloutState.ROLLED_BACK, now, f"{reason}{cause}")
        self.reason = reason
        return [
            RolloutRolledBack(
                **self._identity(now),
                stable_version=self.stable_version,
                reason=reason,
                cause_event_id=cause_event_id,
                violation_detected_at=violation_detected_at,
            )
        ]

    # -- internals -------------------------------------------------------------------

    def _record_verdict(
        self, check: _Check, passed: bool, reasons: Sequence[str], now: datetime
    ) -> list[RolloutEvent]:
        """Record one check's verdict and move the state machine if it decides anything.

        A repeat of the recorded verdict, or any verdict after a terminal state,
        returns [] so redelivered events change nothing. A failure always wins:
        before the start it refuses the rollout; during the canary (say a key was
        revoked) it rolls back, since a failed check means no user should have it.
        """
        require_aware(now, "now")
        recorded = self.security_passed if check == "security" else self.compat_passed
        if self.state.is_terminal or recorded is passed:
            return []
        if check == "security":
            self.security_passed = passed
        else:
            self.compat_passed = passed
        outcome = "passed" if passed else "failed"
        listed = f": {'; '.join(reasons)}" if reasons else ""
        self._note(now, f"{check}_verdict", f"{check} {outcome}{listed}")
        if not passed:
            why = tuple(f"{check}: {r}" for r in reasons) or (f"{check} check failed",)
            if self.state is RolloutState.IN_PROGRESS:
                return self.roll_back("; ".join(why), now)
            return self._refuse(why, now)
        if self.security_passed and self.compat_passed:
            return self._start(now)
        return []

    def _start(self, now: datetime) -> list[RolloutEvent]:
        self.phase_index = 0
        self.phase_started_at = now
        self._move_to(RolloutState.IN_PROGRESS, now, f"phase 0 at {self.phases[0]}%")
        return [
            RolloutStarted(
                **self._identity(now),
                stable_version=self.stable_version,
                phases=self.phases,
                percent=self.percent,
            )
        ]

    def _refuse(self, reasons: tuple[str, ...], now: datetime) -> list[RolloutEvent]:
        self._move_to(RolloutState.REFUSED, now, "; ".join(reasons))
        self.reason = "; ".join(reasons)
        return [RolloutRefused(**self._identity(now), reasons=reasons)]

    def _move_to(self, target: RolloutState, now: datetime, detail: str) -> None:
        """The one place the state changes, so the transition table is always enforced."""
        if not self.state.can_move_to(target):
            raise InvalidTransitionError(self.rollout_id, self.state.value, target.value)
        self.state = target
        self._note(now, target.value.lower(), detail)

    def _note(self, now: datetime, kind: str, detail: str) -> None:
        self.history.append(HistoryEntry(at=now, kind=kind, detail=detail))

    def _identity(self, now: datetime) -> _Identity:
        return _Identity(
            tenant_id=self.tenant_id,
            rollout_id=self.rollout_id,
            plugin=self.plugin,
            version=self.version,
            occurred_at=now,
        )
