"""When an outcome is too old or too far ahead to count.

Outcomes carry the time they happened. One that arrives late (a client
flushing a buffer, a retry) still lands in the bucket of its time, as long as
it is no older than the lateness allowance: past that, the windows it belonged
to have been judged and their violations emitted, so it is refused and
counted instead of silently rewriting history. One stamped in the future by
more than the allowed clock skew is refused too.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from portico_slo.domain._time import require_aware

DEFAULT_MAX_LATENESS_SECONDS = 300
DEFAULT_MAX_SKEW_SECONDS = 60


class OutcomeResult(StrEnum):
    ACCEPTED = "accepted"
    TOO_LATE = "too_late"
    TOO_EARLY = "too_early"


def judge_time(
    at: datetime,
    now: datetime,
    *,
    max_lateness_seconds: int = DEFAULT_MAX_LATENESS_SECONDS,
    max_skew_seconds: int = DEFAULT_MAX_SKEW_SECONDS,
) -> OutcomeResult:
    """Whether an outcome that happened `at` may be counted `now`."""
    require_aware(at, "outcome time")
    if at < now - timedelta(seconds=max_lateness_seconds):
        return OutcomeResult.TOO_LATE
    if at > now + timedelta(seconds=max_skew_seconds):
        return OutcomeResult.TOO_EARLY
    return OutcomeResult.ACCEPTED
