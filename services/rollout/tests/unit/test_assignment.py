"""Assignments: derived from a rollout and the stable version, resolved per bucket, ended."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from portico_rollout.domain.assignment import Assignment, Resolution
from portico_rollout.domain.rollout import Rollout
from portico_rollout.domain.state import RolloutState
from portico_rollout.errors import InvalidBucketError
from portico_rollout.testing.evidence import step

MakeRollout = Callable[..., Rollout]
PLUGIN = "@acme/plugin-cost-insights"


def test_without_a_rollout_the_stable_version_serves_everyone() -> None:
    """No rollout: the stable version for every bucket, nobody in a canary."""
    assignment = Assignment.of("acme", PLUGIN, None, "2.2.0")
    assert assignment == Assignment("acme", PLUGIN, stable_version="2.2.0")
    assert assignment.resolve(0) == Resolution("2.2.0", in_canary=False, percent=0)
    assert assignment.resolve(9999) == Resolution("2.2.0", in_canary=False, percent=0)


def test_a_live_canary_serves_its_share_by_bucket(started: Rollout) -> None:
    """At 10% buckets below 1000 get the canary, the rest the stable version it runs over."""
    assignment = Assignment.of("acme", PLUGIN, started, "ignored")
    assert (assignment.rollout_id, assignment.canary_version, assignment.percent) == (
        "ro-1",
        "2.3.0",
        10,
    )
    assert assignment.state is RolloutState.IN_PROGRESS
    assert assignment.resolve(999) == Resolution("2.3.0", in_canary=True, percent=10)
    assert assignment.resolve(1000) == Resolution("2.2.0", in_canary=False, percent=10)


def test_a_rollout_awaiting_checks_serves_nobody_the_new_version(
    make_rollout: MakeRollout,
) -> None:
    """Before the checks pass the rollout is named but its share is 0."""
    assignment = Assignment.of("acme", PLUGIN, make_rollout(), "2.2.0")
    assert (assignment.rollout_id, assignment.percent) == ("ro-1", 0)
    assert assignment.resolve(0) == Resolution("2.2.0", in_canary=False, percent=0)


def test_a_completed_rollout_serves_everyone_without_a_canary(
    started: Rollout, t0: datetime
) -> None:
    """Completed, the new version is everyone's and nobody counts as a canary."""
    for n in range(1, 5):
        step(started, t0 + n * timedelta(seconds=600))
    assignment = Assignment.of("acme", PLUGIN, started, "2.2.0")
    assert assignment.resolve(9999) == Resolution("2.3.0", in_canary=False, percent=100)


def test_ending_the_current_rollout_leaves_the_stable_version(started: Rollout) -> None:
    """A rollback ends the canary; a completion makes its version the stable one."""
    live = Assignment.of("acme", PLUGIN, started, "")
    assert live.ended("ro-1", "2.2.0") == Assignment("acme", PLUGIN, stable_version="2.2.0")
    assert live.ended("ro-1", "2.3.0") == Assignment("acme", PLUGIN, stable_version="2.3.0")
    assert live.ended("ro-1", None) == Assignment("acme", PLUGIN, stable_version="2.2.0")


def test_ending_another_rollout_changes_nothing(started: Rollout) -> None:
    """A late or duplicate end of an earlier rollout never touches the current one."""
    live = Assignment.of("acme", PLUGIN, started, "")
    assert live.ended("ro-0", "1.0.0") is live
    stable = Assignment("acme", PLUGIN, stable_version="2.2.0")
    assert stable.ended("", "9.9.9") is stable


@pytest.mark.parametrize("bucket", [-1, 10_000])
def test_a_bucket_out_of_range_is_refused(bucket: int) -> None:
    """Buckets lie in [0, 10000); anything else is a bug upstream, not a user to place."""
    with pytest.raises(InvalidBucketError):
        Assignment("acme", PLUGIN).resolve(bucket)
