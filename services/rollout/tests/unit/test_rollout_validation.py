"""How bad input and corrupt rows are rejected, and how a rollout round-trips a row."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from portico_common.errors import CATEGORIES
from portico_rollout.domain.history import HistoryEntry
from portico_rollout.domain.phases import validate_phases
from portico_rollout.domain.rollout import Rollout
from portico_rollout.domain.state import RolloutState
from portico_rollout.errors import (
    InvalidPhasesError,
    InvalidRolloutError,
    NaiveDatetimeError,
    RolloutError,
)
from portico_rollout.testing.evidence import step

MakeRollout = Callable[..., Rollout]


@pytest.mark.parametrize(
    ("phases", "problem"),
    [
        ([], "at least one"),
        ([10, 10, 100], "does not exceed"),
        ([50, 25, 100], "does not exceed"),
        ([0, 100], "outside 1..100"),
        ([10, 101], "outside 1..100"),
        ([10, 50], "last phase must be 100"),
        ([True, 100], "not an integer"),
    ],
)
def test_bad_phases_are_rejected(phases: list[int], problem: str) -> None:
    """Phases must be integers in 1..100, strictly increasing, ending at 100."""
    with pytest.raises(InvalidPhasesError, match=problem) as caught:
        validate_phases(phases)
    assert caught.value.code == "INVALID_ARGUMENT"


def test_good_phases_become_a_tuple() -> None:
    """Valid phases come back as a tuple, whatever sequence they arrived in."""
    assert validate_phases([5, 100]) == (5, 100)
    assert validate_phases([100]) == (100,)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"rollout_id": ""}, "rollout_id"),
        ({"tenant_id": ""}, "tenant_id"),
        ({"plugin": ""}, "plugin"),
        ({"version": ""}, "version"),
        ({"version": "2.2.0"}, "version"),
        ({"bake_seconds": -1}, "bake_seconds"),
    ],
)
def test_bad_requests_are_rejected(
    make_rollout: MakeRollout, overrides: dict[str, object], field: str
) -> None:
    """A request with an empty id, a negative bake or the stable version itself is refused."""
    with pytest.raises(InvalidRolloutError) as caught:
        make_rollout(**overrides)
    assert caught.value.field == field


def test_naive_times_are_rejected(make_rollout: MakeRollout, started: Rollout) -> None:
    """A datetime without a timezone is refused before it can change anything."""
    naive = datetime(2026, 3, 1, 12, 0)  # noqa: DTZ001 - the point of the test
    with pytest.raises(NaiveDatetimeError):
        make_rollout(now=naive)
    history = list(started.history)
    with pytest.raises(NaiveDatetimeError, match="now"):
        step(started, naive)
    with pytest.raises(NaiveDatetimeError, match="violation_detected_at"):
        started.roll_back("bad", datetime.now(UTC), violation_detected_at=naive)
    assert started.history == history
    assert started.state is RolloutState.IN_PROGRESS


def test_other_offsets_compare_correctly(started: Rollout, t0: datetime) -> None:
    """Times in another offset are compared as instants, not wall-clock readings."""
    plus_two = timezone(timedelta(hours=2))
    just_before = (t0 + timedelta(seconds=599)).astimezone(plus_two)
    assert step(started, just_before) == []
    assert len(step(started, (t0 + timedelta(seconds=600)).astimezone(plus_two))) == 1


def test_row_round_trip(started: Rollout, t0: datetime) -> None:
    """to_row and from_row rebuild an equal rollout, history included."""
    step(started, t0 + timedelta(minutes=10))
    started.revision = 3
    row = started.to_row()
    assert row["state"] == "IN_PROGRESS"
    assert row["phases"] == [10, 25, 50, 100]
    assert Rollout.from_row(row) == started


def test_row_with_unknown_state_is_rejected(started: Rollout) -> None:
    """A stored state this code does not know fails at load with the field named."""
    row = started.to_row()
    row["state"] = "HIBERNATING"
    with pytest.raises(InvalidRolloutError, match="unknown state 'HIBERNATING'"):
        Rollout.from_row(row)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"phase_index": 4}, "phase_index"),
        ({"phase_started_at": None}, "phase_started_at"),
        ({"revision": -1}, "revision"),
    ],
)
def test_inconsistent_rows_are_rejected(
    started: Rollout, change: dict[str, Any], field: str
) -> None:
    """A row that no transition could have produced fails loudly at load."""
    row = started.to_row() | change
    with pytest.raises(InvalidRolloutError) as caught:
        Rollout.from_row(row)
    assert caught.value.field == field


def test_malformed_history_is_rejected(started: Rollout) -> None:
    """A history entry without a parsable time is refused at load."""
    row = started.to_row()
    row["history"] = [{"at": "yesterday", "kind": "requested"}]
    with pytest.raises(InvalidRolloutError, match="bad time"):
        Rollout.from_row(row)
    row["history"] = [{"kind": "requested"}]
    with pytest.raises(InvalidRolloutError, match="malformed entry"):
        Rollout.from_row(row)


def test_history_entry_json_round_trip(t0: datetime) -> None:
    """A history entry survives JSON with its offset intact."""
    entry = HistoryEntry(at=t0, kind="started", detail="phase 0 at 10%")
    assert HistoryEntry.from_json(entry.to_json()) == entry


def test_errors_share_a_base_and_a_code() -> None:
    """Every rollout error is a RolloutError whose code is a status name the edge maps."""
    # ABORTED: a save lost an optimistic-concurrency race; the caller re-reads and retries.
    # UNAVAILABLE: slo could not be asked, or the in-memory assignments are still
    # loading; the caller retries. PERMISSION_DENIED: an approver lacks the role.
    # INTERNAL: a rendered HTTPRoute broke its schema, which is a bug of ours.
    # RESOURCE_EXHAUSTED: the tenant runs as many rollouts as its quota allows.
    allowed = {
        "INVALID_ARGUMENT",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "FAILED_PRECONDITION",
        "ABORTED",
        "UNAVAILABLE",
        "PERMISSION_DENIED",
        "INTERNAL",
        "RESOURCE_EXHAUSTED",
    }
    subclasses = RolloutError.__subclasses__()
    assert len(subclasses) >= 7
    assert {cls.code for cls in subclasses} <= allowed


def test_errors_take_their_code_from_one_kernel_category() -> None:
    """Each rollout error extends exactly one kernel category and none restates `code`."""
    assert "code" not in RolloutError.__dict__
    for cls in RolloutError.__subclasses__():
        assert "code" not in cls.__dict__, cls
        assert sum(issubclass(cls, c) for c in CATEGORIES) == 1, cls
