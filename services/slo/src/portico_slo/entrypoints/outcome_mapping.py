"""ReportOutcomes' outcomes as a column batch, read straight off the protobuf fields.

A report carries up to 10,000 outcomes; making a datetime of each one's
Timestamp cost more than everything else the report did, so the times go
into the batch as epoch microseconds (truncated, as `Timestamp.ToDatetime`
truncates its nanoseconds).
"""

from __future__ import annotations

from collections.abc import Iterable

from portico.slo.v1 import slo_pb2 as pb
from portico_slo.domain.batch import MICROS, OutcomeBatch
from portico_slo.errors import InvalidOutcomeError

# google.protobuf.Timestamp's valid range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
_MIN_SECONDS = -62_135_596_800
_MAX_SECONDS = 253_402_300_799
_NANOS = 1_000_000_000


def outcome_batch(outcomes: Iterable[pb.Outcome]) -> OutcomeBatch:
    """The outcomes as columns; an unset `at` is None (when reported)."""
    successes: list[bool] = []
    latencies: list[int] = []
    times: list[int | None] = []
    for index, outcome in enumerate(outcomes):
        successes.append(outcome.success)
        latencies.append(outcome.latency_ms)
        at = outcome.at
        seconds, nanos = at.seconds, at.nanos
        if seconds or nanos:
            if not (_MIN_SECONDS <= seconds <= _MAX_SECONDS and 0 <= nanos < _NANOS):
                raise InvalidOutcomeError(
                    f"outcome {index} has an invalid time ({seconds} s, {nanos} ns)"
                )
            times.append(seconds * MICROS + nanos // 1000)
        else:
            # The epoch itself, or no time at all (0 s 0 ns either way on the wire).
            times.append(0 if outcome.HasField("at") else None)
    return OutcomeBatch(successes, latencies, times)
