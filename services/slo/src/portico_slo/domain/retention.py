"""How long an SLO's buckets are kept: its longest alerting window or its budget period.

A calendar period can be longer than its nominal length (31-day months), and
the budget history reaches one period back from a point up to a period ago,
so two periods plus a day are kept.
"""

from __future__ import annotations

from portico_slo.domain.objective import SloDefinition

_DAY = 86_400


def retention_seconds(definition: SloDefinition, bucket_seconds: int) -> int:
    """Seconds of buckets to keep, a whole number of buckets."""
    longest_window = max(definition.alerting.windows or (definition.long_window_seconds,))
    keep = max(longest_window, 2 * definition.window_seconds + _DAY)
    return -(-keep // bucket_seconds) * bucket_seconds
