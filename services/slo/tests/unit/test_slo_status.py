"""How an SLO moves from OK to VIOLATED and emits its violation once."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from portico_slo.domain.burn_rate import Evaluation
from portico_slo.domain.events import SloViolated
from portico_slo.domain.objective import SloDefinition
from portico_slo.domain.slo import SloState, SloStatus
from portico_slo.errors import InvalidOutcomeError, InvalidSloDefinitionError

TRIPPED = Evaluation(short_burn=30.0, long_burn=16.5, tripped=True)
CALM = Evaluation(short_burn=1.0, long_burn=0.5, tripped=False)


def test_calm_evaluations_keep_ok(definition: SloDefinition, t0: datetime) -> None:
    """Evaluations that do not trip leave the SLO OK and emit nothing."""
    status = SloStatus(slo_id="slo-1")
    assert status.observe(definition, CALM, t0) == []
    assert status.state is SloState.OK
    assert status.violated_at is None


def test_first_trip_emits_violation(definition: SloDefinition, t0: datetime) -> None:
    """The first tripped evaluation marks the SLO violated and emits SloViolated."""
    status = SloStatus(slo_id="slo-1")
    events = status.observe(definition, TRIPPED, t0)
    assert events == [
        SloViolated(
            tenant_id="acme",
            slo_id="slo-1",
            plugin="@acme/plugin-cost-insights",
            version="2.3.0",
            rule="burn rate >= 14.4 over 5m and 1h",
            short_window_burn_rate=30.0,
            long_window_burn_rate=16.5,
            threshold=14.4,
            detected_at=t0,
        )
    ]
    assert status.state is SloState.VIOLATED
    assert status.violated_at == t0


def test_violation_is_emitted_once(definition: SloDefinition, t0: datetime) -> None:
    """Further trips, and calm spells between them, emit nothing and keep the first time."""
    status = SloStatus(slo_id="slo-1")
    status.observe(definition, TRIPPED, t0)
    later = [t0 + timedelta(minutes=m) for m in range(1, 120)]
    assert [e for now in later for e in status.observe(definition, TRIPPED, now)] == []
    assert status.observe(definition, CALM, later[-1]) == []
    assert status.observe(definition, TRIPPED, later[-1] + timedelta(hours=1)) == []
    assert status.state is SloState.VIOLATED
    assert status.violated_at == t0


def test_definition_must_match(definition: SloDefinition, t0: datetime) -> None:
    """Observing with another SLO's definition is refused and changes nothing."""
    status = SloStatus(slo_id="slo-2")
    with pytest.raises(InvalidSloDefinitionError, match="slo-1"):
        status.observe(definition, TRIPPED, t0)
    assert status.state is SloState.OK


def test_naive_time_is_refused(definition: SloDefinition) -> None:
    """A time without a timezone is refused."""
    status = SloStatus(slo_id="slo-1")
    with pytest.raises(InvalidOutcomeError, match="timezone"):
        status.observe(definition, TRIPPED, datetime(2026, 3, 1))  # noqa: DTZ001 - the point
    assert status.state is SloState.OK


def test_stored_violation_needs_its_time() -> None:
    """A row saying VIOLATED without a time is corrupt and fails at load."""
    with pytest.raises(InvalidSloDefinitionError, match="violated_at"):
        SloStatus(slo_id="slo-1", state=SloState.VIOLATED)
