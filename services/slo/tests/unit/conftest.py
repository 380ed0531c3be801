"""Fixtures for the slo domain and app-layer tests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portico_common.clock import ManualClock
from portico_slo.adapters.memory import MemoryBurnRates, MemoryStore
from portico_slo.domain.objective import SloDefinition


@pytest.fixture
def t0() -> datetime:
    """The simulated moment every scenario starts at."""
    return datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def definition() -> SloDefinition:
    """A 99% SLO on a plugin version with every alerting field left at its default."""
    return SloDefinition.with_defaults(
        slo_id="slo-1",
        tenant_id="acme",
        plugin="@acme/plugin-cost-insights",
        version="2.3.0",
        objective=0.99,
        window_seconds=30 * 24 * 3600,
        latency_threshold_ms=300,
    )


@pytest.fixture
def clock(t0: datetime) -> ManualClock:
    """The time every app-layer test reads, moved by hand."""
    return ManualClock(t0)


@pytest.fixture
def store(clock: ManualClock) -> MemoryStore:
    """The in-memory database and outbox the app layer runs against."""
    return MemoryStore(clock)


@pytest.fixture
def gauge() -> MemoryBurnRates:
    """Records the burn rates the app layer publishes."""
    return MemoryBurnRates()
