"""Fixtures for the app-layer tests."""

from __future__ import annotations

import pytest

from portico_rollout.testing.world import RolloutWorld
from portico_rollout.testing.world import world as make_world


@pytest.fixture
def world() -> RolloutWorld:
    """The app layer over in-memory adapters, its clock at 2026-03-01 12:00 UTC."""
    return make_world()
