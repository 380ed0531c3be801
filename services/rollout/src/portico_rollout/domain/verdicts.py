"""Verdicts of the security and compat checks, which may arrive before the rollout.

Every verdict is kept. What a rollout acts on is the latest verdict of each
kind for its plugin version, so a re-check supersedes an older one and a
redelivered old verdict cannot undo a newer one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from portico_rollout.domain._time import require_aware
from portico_rollout.domain.events import RolloutEvent
from portico_rollout.domain.rollout import Rollout
from portico_rollout.errors import InvalidRolloutError

CheckKind = Literal["security", "compat"]
CHECK_KINDS: tuple[CheckKind, ...] = ("security", "compat")


@dataclass(frozen=True, slots=True)
class CheckVerdict:
    """One check's outcome for one plugin version of one tenant."""

    tenant_id: str
    plugin: str
    version: str
    kind: CheckKind
    passed: bool
    reasons: tuple[str, ...]
    # The ce-id of the event that carried it; recording it twice is a no-op.
    event_id: str
    # When the check decided (the event's time), which orders verdicts.
    at: datetime

    def __post_init__(self) -> None:
        if self.kind not in CHECK_KINDS:
            raise InvalidRolloutError("kind", f"{self.kind!r} is not one of {CHECK_KINDS}")
        require_aware(self.at, "verdict time")


def effective_verdicts(verdicts: Iterable[CheckVerdict]) -> list[CheckVerdict]:
    """The latest verdict of each kind, oldest first.

    `verdicts` come in the order they were recorded; among equal times the
    later-recorded one wins.
    """
    latest: dict[CheckKind, CheckVerdict] = {}
    for verdict in verdicts:
        current = latest.get(verdict.kind)
        if current is None or verdict.at >= current.at:
            latest[verdict.kind] = verdict
    return sorted(latest.values(), key=lambda v: v.at)


def apply_verdicts(
    rollout: Rollout, verdicts: Sequence[CheckVerdict], now: datetime
) -> list[RolloutEvent]:
    """Feed the effective verdicts for the rollout's version into it; returns its events.

    Verdicts for another plugin or version are ignored; repeats change
    nothing, since the rollout itself ignores a verdict it already holds.
    """
    mine = [
        v
        for v in verdicts
        if (v.tenant_id, v.plugin, v.version)
        == (rollout.tenant_id, rollout.plugin, rollout.version)
    ]
    events: list[RolloutEvent] = []
    for verdict in effective_verdicts(mine):
        record = (
            rollout.record_security_verdict
            if verdict.kind == "security"
            else rollout.record_compat_verdict
        )
        events += record(verdict.passed, verdict.reasons, now)
    return events
