"""When `portico up` restarts a process that died, and when it gives up: pure, on a Clock.

A process that exits on its own is restarted after a backoff that doubles
with each crash in a row (0.5 s, 1 s, 2 s, ... capped); one that ran for
`stable_seconds` starts over at the first step. More than `max_restarts`
crashes within `window_seconds` means something is broken that a restart
will not mend: the supervisor gives up and says so.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from portico_common.clock import Clock


@dataclass(frozen=True)
class RestartPolicy:
    initial_backoff_seconds: float = 0.5
    max_backoff_seconds: float = 30.0
    # More crashes than this within the window: give up.
    max_restarts: int = 5
    window_seconds: float = 60.0
    # A process that ran this long before it died starts the backoff over.
    stable_seconds: float = 30.0


@dataclass(frozen=True)
class Restart:
    """Start the process again after `delay_seconds`."""

    delay_seconds: float


@dataclass(frozen=True)
class GiveUp:
    """Stop trying; `reason` says why, for the user."""

    reason: str


@dataclass
class ProcessRecord:
    """What `portico status` shows of one supervised process."""

    name: str
    started_at: datetime | None = None
    restarts: int = 0
    last_exit: str = ""
    crashes: deque[datetime] = field(default_factory=deque)
    # Crashes in a row without a stable run in between: the backoff's exponent.
    streak: int = 0


class RestartTracker:
    """One process's crashes and starts, and the policy's answer to each crash."""

    def __init__(self, name: str, clock: Clock, policy: RestartPolicy | None = None) -> None:
        self.policy = policy or RestartPolicy()
        self.clock = clock
        self.record = ProcessRecord(name)

    def started(self) -> None:
        self.record.started_at = self.clock.now()

    def restarted(self) -> None:
        self.record.restarts += 1
        self.started()

    def uptime_seconds(self) -> float:
        started = self.record.started_at
        return (self.clock.now() - started).total_seconds() if started else 0.0

    def exited(self, reason: str) -> Restart | GiveUp:
        """Records a crash (`reason`: how it exited); says whether and when to restart."""
        policy, record, now = self.policy, self.record, self.clock.now()
        ran = self.uptime_seconds()
        record.last_exit = reason
        record.started_at = None
        record.streak = 1 if ran >= policy.stable_seconds else record.streak + 1
        record.crashes.append(now)
        while record.crashes and (now - record.crashes[0]).total_seconds() > policy.window_seconds:
            record.crashes.popleft()
        if len(record.crashes) > policy.max_restarts:
            return GiveUp(
                f"{record.name} {reason}; it crashed {len(record.crashes)} times within"
                f" {policy.window_seconds:.0f}s, so portico up gives up on it"
            )
        delay = policy.initial_backoff_seconds * 2 ** (record.streak - 1)
        return Restart(min(delay, policy.max_backoff_seconds))
