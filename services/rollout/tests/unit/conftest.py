"""Fixtures for the rollout domain tests: a fixed start time and rollout factories."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from portico_rollout.domain.rollout import Rollout

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

MakeRollout = Callable[..., Rollout]


@pytest.fixture
def t0() -> datetime:
    """The simulated moment every scenario starts at."""
    return T0


@pytest.fixture
def make_rollout() -> MakeRollout:
    """Build a requested rollout; keyword arguments override the defaults."""

    def make(**overrides: object) -> Rollout:
        fields: dict[str, object] = {
            "rollout_id": "ro-1",
            "tenant_id": "acme",
            "plugin": "@acme/plugin-cost-insights",
            "version": "2.3.0",
            "stable_version": "2.2.0",
            "bake_seconds": 600,
            "now": T0,
        }
        fields.update(overrides)
        return Rollout.request(**fields)  # type: ignore[arg-type]

    return make


@pytest.fixture
def started(make_rollout: MakeRollout) -> Rollout:
    """A rollout whose checks both passed at T0, so phase 0 (10%) is live."""
    rollout = make_rollout()
    rollout.record_security_verdict(True, [], T0)
    rollout.record_compat_verdict(True, [], T0)
    return rollout
