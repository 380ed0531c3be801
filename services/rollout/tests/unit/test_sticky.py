"""How users are bucketed and which version each one sees."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from portico_rollout.domain.rollout import Rollout
from portico_rollout.domain.sticky import Resolution, bucket_for, resolve
from portico_rollout.errors import InvalidBucketError
from portico_rollout.testing.evidence import step

MakeRollout = Callable[..., Rollout]
USERS = [f"user-{n}" for n in range(20_000)]
PLUGIN = "@acme/plugin-cost-insights"


def test_bucket_is_pinned_across_processes_and_deploys() -> None:
    """The bucket of a known user in a release never changes, or users would switch versions."""
    assert bucket_for("acme", PLUGIN, "2.3.0", "user-1") == 3317
    assert bucket_for("acme", PLUGIN, "2.3.0", "alice@example.com") == 3965


def test_bucket_depends_on_every_part() -> None:
    """Tenant, plugin, version and user all move the bucket; parts cannot bleed into each other."""
    base = bucket_for("acme", PLUGIN, "2.3.0", "user-1")
    assert bucket_for("globex", PLUGIN, "2.3.0", "user-1") != base
    assert bucket_for("acme", "@acme/other", "2.3.0", "user-1") != base
    assert bucket_for("acme", PLUGIN, "2.4.0", "user-1") != base
    assert bucket_for("ab", "c", "1.0.0", "u") != bucket_for("a", "bc", "1.0.0", "u")


def test_buckets_stay_in_range() -> None:
    """Every bucket lies in [0, 10000)."""
    assert all(0 <= bucket_for("acme", PLUGIN, "2.3.0", user) < 10_000 for user in USERS)


def test_each_release_picks_its_own_canaries() -> None:
    """The 10% cohorts of two releases overlap by chance only (about 1% of users), not wholly."""
    first = {u for u in USERS if bucket_for("acme", PLUGIN, "2.3.0", u) < 1000}
    second = {u for u in USERS if bucket_for("acme", PLUGIN, "2.4.0", u) < 1000}
    assert abs(len(first) / len(USERS) - 0.10) <= 0.02
    assert abs(len(second) / len(USERS) - 0.10) <= 0.02
    assert len(first & second) / len(USERS) <= 0.02


def test_no_rollout_serves_stable() -> None:
    """Without a rollout every user gets the stable version and nobody is a canary."""
    assert resolve(None, "2.2.0", 0) == Resolution(version="2.2.0", in_canary=False, percent=0)


def test_awaiting_rollout_serves_stable(make_rollout: MakeRollout) -> None:
    """A rollout waiting for checks sends even bucket 0 to the stable version."""
    assert resolve(make_rollout(), "2.2.0", 0) == Resolution("2.2.0", False, 0)


def test_boundary_bucket(started: Rollout) -> None:
    """At 10% bucket 999 is the last in the canary and 1000 the first outside."""
    assert resolve(started, "2.2.0", 999) == Resolution("2.3.0", True, 10)
    assert resolve(started, "2.2.0", 1000) == Resolution("2.2.0", False, 10)


def test_completed_rollout_serves_new_version_to_all(started: Rollout, t0: datetime) -> None:
    """After completion everyone gets the new version as the stable one."""
    for n in range(1, 5):
        step(started, t0 + n * timedelta(seconds=600))
    assert resolve(started, "2.2.0", 9999) == Resolution("2.3.0", False, 100)


def test_rolled_back_rollout_serves_stable_to_all(started: Rollout, t0: datetime) -> None:
    """After a rollback even the users who had the canary are back on stable."""
    started.roll_back("violation", t0)
    assert resolve(started, "2.2.0", 0) == Resolution("2.2.0", False, 0)


@pytest.mark.parametrize("bucket", [-1, 10_000])
def test_out_of_range_bucket_is_rejected(bucket: int) -> None:
    """A bucket outside [0, 10000) is a caller bug and raises."""
    with pytest.raises(InvalidBucketError):
        resolve(None, "2.2.0", bucket)


def test_canary_cohort_only_grows_and_matches_share(started: Rollout, t0: datetime) -> None:
    """Over 20k users, each phase's canary contains the previous one and holds its share ±2%."""
    buckets = {user: bucket_for("acme", PLUGIN, started.version, user) for user in USERS}
    previous: set[str] = set()
    for n in range(4):
        step(started, t0 + n * timedelta(seconds=600))
        cohort = {u for u, b in buckets.items() if resolve(started, "2.2.0", b).in_canary}
        assert previous <= cohort
        assert abs(len(cohort) / len(USERS) - started.percent / 100) <= 0.02
        assert all(resolve(started, "2.2.0", buckets[u]).version == "2.3.0" for u in cohort)
        previous = cohort
    assert started.percent == 100
    assert len(previous) == len(USERS)
