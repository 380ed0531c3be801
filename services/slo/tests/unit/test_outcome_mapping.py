"""ReportOutcomes' protobuf outcomes read as int columns mean what their datetimes meant."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from portico.slo.v1 import slo_pb2 as pb
from portico_common.timestamps import timestamp_field, to_timestamp
from portico_slo.domain.batch import micros_of
from portico_slo.entrypoints.outcome_mapping import outcome_batch
from portico_slo.errors import InvalidOutcomeError

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)


def test_columns_hold_each_outcome_as_its_timestamp_reads() -> None:
    """Success, latency and time (truncated to the microsecond, unset as None) per outcome."""
    rng = random.Random(3)  # noqa: S311 - reproducible test data, not secrets
    outcomes = [
        pb.Outcome(
            success=rng.random() > 0.5,
            latency_ms=rng.randrange(0, 5000),
            at=Timestamp(seconds=int(NOW.timestamp()) - rng.randrange(0, 600), nanos=n),
        )
        for n in (0, 1, 999, 1000, 999_999_999, 123_456_789)
    ]
    outcomes.append(pb.Outcome(success=True, latency_ms=7))
    batch = outcome_batch(outcomes)
    assert batch.successes == [o.success for o in outcomes]
    assert batch.latencies_ms == [o.latency_ms for o in outcomes]
    expected = [timestamp_field(o, "at") for o in outcomes]
    assert batch.times_us == [None if at is None else micros_of(at) for at in expected]
    assert batch.times_us[-1] is None


def test_a_time_set_to_the_epoch_is_not_taken_for_an_unset_one() -> None:
    """An `at` of 1970-01-01 is a time (far too late), not "when reported"."""
    epoch = pb.Outcome(
        success=True, latency_ms=1, at=to_timestamp(datetime(1970, 1, 1, tzinfo=UTC))
    )
    assert outcome_batch([epoch]).times_us == [0]


@pytest.mark.parametrize(
    "stamp",
    [
        Timestamp(seconds=1, nanos=-1),
        Timestamp(seconds=1, nanos=1_000_000_000),
        Timestamp(seconds=253_402_300_800),
    ],
)
def test_an_invalid_timestamp_is_refused_naming_the_outcome(stamp: Timestamp) -> None:
    """A Timestamp outside protobuf's valid range is an invalid outcome, by index."""
    good = pb.Outcome(success=True, latency_ms=1, at=to_timestamp(NOW - timedelta(seconds=1)))
    with pytest.raises(InvalidOutcomeError, match="outcome 1 has an invalid time"):
        outcome_batch([good, pb.Outcome(success=True, latency_ms=1, at=stamp)])
