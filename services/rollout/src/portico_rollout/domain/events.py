"""Domain events a rollout emits; the app layer turns them into outbox rows.

`occurred_at` is the domain time of the change, so the published CloudEvent's
`ce-time` matches the history rather than the moment the relay ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from portico_rollout.domain.decisions import Decision


@dataclass(frozen=True, kw_only=True, slots=True)
class RolloutEvent:
    """Fields every rollout event carries."""

    tenant_id: str
    rollout_id: str
    plugin: str
    version: str
    occurred_at: datetime

    @property
    def subject(self) -> str:
        """What the CloudEvent is about: the rollout."""
        return self.rollout_id


@dataclass(frozen=True, kw_only=True, slots=True)
class RolloutRequested(RolloutEvent):
    """A rollout was asked for; it waits for its checks and no user has the version yet."""

    stable_version: str
    phases: tuple[int, ...]
    bake_seconds: int


@dataclass(frozen=True, kw_only=True, slots=True)
class RolloutStarted(RolloutEvent):
    """Both checks passed and the first phase is live."""

    stable_version: str
    phases: tuple[int, ...]
    percent: int
    strategy: str = "canary"


@dataclass(frozen=True, kw_only=True, slots=True)
class RolloutPhaseAdvanced(RolloutEvent):
    """A phase baked cleanly and the share grew."""

    phase_index: int
    percent: int


@dataclass(frozen=True, kw_only=True, slots=True)
class RolloutPaused(RolloutEvent):
    """An operator held the share where it is; the users it serves keep the version."""

    phase_index: int
    percent: int
    actor: str
    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class RolloutResumed(RolloutEvent):
    """A paused rollout is judged again from the phase it was held in."""

    phase_index: int
    percent: int
    actor: str
    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class RolloutCompleted(RolloutEvent):
    """The version serves everyone and is now the stable one."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RolloutRefused(RolloutEvent):
    """A check failed (or the rollout was aborted) before any user got the version."""

    reasons: tuple[str, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class InstallRolloutDeclined(RolloutEvent):
    """An approved install's rollout was not requested; no rollout exists (rollout_id is "")."""

    request_id: str
    reason: str

    @property
    def subject(self) -> str:
        return self.request_id


@dataclass(frozen=True, kw_only=True, slots=True)
class RolloutRolledBack(RolloutEvent):
    """Traffic is back on the stable version."""

    stable_version: str
    reason: str
    # The ce-id of the slo.violated event that caused it; "" for a manual rollback.
    cause_event_id: str = ""
    # Carried through so reaction time is measurable end to end.
    violation_detected_at: datetime | None = None
    # The rollout whose rollback took this one along (it needs that version); "" otherwise.
    cause_rollout_id: str = ""
    # The rollout had completed: the stable version goes back to `stable_version`.
    after_completion: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class RolloutDecisionRecorded(RolloutEvent):
    """A decision was made and stored with its evidence."""

    decision: Decision
