"""Lockout after repeated bad secrets: N failures within a window lock a client id for a while.

Failures are counted per client id, known or not, so a lockout says nothing
about whether a client exists. While locked, no secret is checked at all
(the right one included): the lock ends on its own, or when an administrator
enables the client again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from portico_auth.errors import TooManyAttemptsError


@dataclass(frozen=True)
class LockoutPolicy:
    """`max_failures` bad secrets within `window` lock the client id for `duration`."""

    max_failures: int = 5
    window: timedelta = timedelta(minutes=5)
    duration: timedelta = timedelta(minutes=15)

    def __post_init__(self) -> None:
        if self.max_failures < 1 or self.window <= timedelta(0) or self.duration <= timedelta(0):
            raise ValueError("a lockout needs max_failures >= 1 and a positive window and duration")


@dataclass(frozen=True)
class FailedAttempts:
    """The bad secrets presented for one client id in the current window."""

    client_id: str
    failures: int
    window_started_at: datetime
    locked_until: datetime | None = None

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def check_not_locked(self, now: datetime) -> None:
        """Raises TooManyAttemptsError, with the time left, while the client id is locked."""
        if self.locked_until is not None and now < self.locked_until:
            raise TooManyAttemptsError(
                f"client {self.client_id!r} is locked out after {self.failures} failed attempts",
                (self.locked_until - now).total_seconds(),
            )

    def expired(self, now: datetime, policy: LockoutPolicy) -> bool:
        """Whether this record no longer matters: not locked, and its window is over."""
        return not self.locked(now) and now >= self.window_started_at + policy.window


def record_failure(
    previous: FailedAttempts | None, client_id: str, now: datetime, policy: LockoutPolicy
) -> FailedAttempts:
    """The attempts after one more bad secret; the one that reaches the limit locks."""
    if previous is not None and previous.locked(now):
        return previous  # a racing attempt that was checked before the lock: it stays locked
    if previous is None or previous.expired(now, policy) or previous.locked_until is not None:
        # A new window: none yet, the last one ran out, or the last lock has ended.
        failures, started = 1, now
    else:
        failures, started = previous.failures + 1, previous.window_started_at
    locked_until = now + policy.duration if failures >= policy.max_failures else None
    return FailedAttempts(client_id, failures, started, locked_until)
