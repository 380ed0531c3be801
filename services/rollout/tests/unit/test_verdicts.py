"""Which verdicts a rollout acts on: the latest of each kind for its own version."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from portico_rollout.domain.rollout import Rollout
from portico_rollout.domain.state import RolloutState
from portico_rollout.domain.verdicts import (
    CheckKind,
    CheckVerdict,
    apply_verdicts,
    effective_verdicts,
)
from portico_rollout.errors import InvalidRolloutError, NaiveDatetimeError

MakeRollout = Callable[..., Rollout]


def verdict(
    kind: CheckKind, passed: bool, at: datetime, event_id: str = "e", version: str = "2.3.0"
) -> CheckVerdict:
    return CheckVerdict(
        "acme", "@acme/plugin-cost-insights", version, kind, passed, (), event_id, at
    )


def test_latest_of_each_kind_wins(t0: datetime) -> None:
    """Only the newest security and the newest compat verdict count, oldest first."""
    old = verdict("security", False, t0, "1")
    compat = verdict("compat", True, t0 + timedelta(seconds=1), "2")
    new = verdict("security", True, t0 + timedelta(seconds=2), "3")
    assert effective_verdicts([new, compat, old]) == [compat, new]


def test_equal_times_keep_the_later_recorded(t0: datetime) -> None:
    """Two verdicts of one kind at the same instant: the one recorded last wins."""
    first, second = verdict("compat", False, t0, "1"), verdict("compat", True, t0, "2")
    assert effective_verdicts([first, second]) == [second]


def test_apply_ignores_other_versions(make_rollout: MakeRollout, t0: datetime) -> None:
    """Verdicts about another version leave the rollout waiting."""
    rollout = make_rollout()
    others = [
        verdict("security", True, t0, version="9.0.0"),
        verdict("compat", True, t0, version="9.0.0"),
    ]
    assert apply_verdicts(rollout, others, t0) == []
    assert rollout.state is RolloutState.AWAITING_CHECKS


def test_apply_starts_on_two_passes(make_rollout: MakeRollout, t0: datetime) -> None:
    """Two passing verdicts start the rollout once, however many times they are applied."""
    rollout = make_rollout()
    both = [verdict("security", True, t0, "1"), verdict("compat", True, t0, "2")]
    assert len(apply_verdicts(rollout, both, t0)) == 1
    assert apply_verdicts(rollout, both, t0) == []
    assert rollout.state is RolloutState.IN_PROGRESS


def test_unknown_kind_is_refused(t0: datetime) -> None:
    """A verdict kind other than security or compat is a malformed verdict."""
    with pytest.raises(InvalidRolloutError, match="kind"):
        verdict("licence", True, t0)  # type: ignore[arg-type]


def test_naive_time_is_refused() -> None:
    """A verdict time without a timezone cannot be ordered against others."""
    with pytest.raises(NaiveDatetimeError):
        verdict("security", True, datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test
