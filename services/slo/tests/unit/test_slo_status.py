"""How an SLO's tiers start and stop firing, inhibit each other, and emit events."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from portico_slo.domain.burn_rate import Counts, Evaluation, TierEvaluation, WindowSummary
from portico_slo.domain.events import SloRecovered, SloViolated
from portico_slo.domain.objective import SloDefinition
from portico_slo.domain.slo import ActiveTier, SloState, SloStatus, TierState
from portico_slo.errors import InvalidOutcomeError, InvalidSloDefinitionError

SHORT = WindowSummary(Counts(good=70, bad=30))
LONG = WindowSummary(Counts(good=835, bad=165))


def judged(
    definition: SloDefinition, tripped: set[str] = frozenset(), burning: set[str] = frozenset()
) -> Evaluation:
    """An evaluation where `tripped` tiers trip and `burning` ones burn without traffic to trip."""
    results = []
    for tier in definition.alerting.enabled:
        hot = tier.name in tripped or tier.name in burning
        results.append(
            TierEvaluation(
                tier=tier,
                short=SHORT,
                long=LONG,
                short_burn=30.0 if hot else 1.0,
                long_burn=16.5 if hot else 0.5,
                burning=hot,
                tripped=tier.name in tripped,
            )
        )
    return Evaluation(tuple(results))


PAGE = {"page-1h"}


def test_calm_evaluations_keep_ok(definition: SloDefinition, t0: datetime) -> None:
    """Evaluations that do not trip leave the SLO OK and emit nothing."""
    status = SloStatus(slo_id="slo-1")
    assert status.observe(definition, judged(definition), t0) == []
    assert status.state is SloState.OK
    assert status.violated_at is None
    assert status.tiers == {}


def test_first_trip_emits_violation_with_evidence(definition: SloDefinition, t0: datetime) -> None:
    """The first tripped tier marks the SLO violated and emits SloViolated with its evidence."""
    status = SloStatus(slo_id="slo-1")
    events = status.observe(definition, judged(definition, PAGE), t0)
    violation_id = f"slo-1/page-1h/{int(t0.timestamp() * 1000)}"
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
            tier="page-1h",
            severity="page",
            short_window_seconds=300,
            long_window_seconds=3600,
            short_good=70,
            short_bad=30,
            long_good=835,
            long_bad=165,
            violation_id=violation_id,
            name="@acme/plugin-cost-insights@2.3.0",
            scope="version",
        )
    ]
    assert status.state is SloState.VIOLATED
    assert status.violated_at == t0
    assert status.tiers == {"page-1h": ActiveTier(TierState.FIRING, t0, violation_id)}


def test_violation_is_emitted_once_while_burning(definition: SloDefinition, t0: datetime) -> None:
    """Further trips and burning spells of the firing tier emit nothing and keep the first time."""
    status = SloStatus(slo_id="slo-1")
    status.observe(definition, judged(definition, PAGE), t0)
    later = [t0 + timedelta(minutes=m) for m in range(1, 120)]
    assert [
        e for now in later for e in status.observe(definition, judged(definition, PAGE), now)
    ] == []
    assert status.observe(definition, judged(definition, burning=PAGE), later[-1]) == []
    assert status.state is SloState.VIOLATED
    assert status.violated_at == t0


def test_burn_stopping_recovers_and_rearms(definition: SloDefinition, t0: datetime) -> None:
    """When the tier stops burning the SLO recovers (slo.recovered); a later burn violates again."""
    status = SloStatus(slo_id="slo-1")
    [violated] = status.observe(definition, judged(definition, PAGE), t0)
    calm = t0 + timedelta(minutes=10)
    [recovered] = status.observe(definition, judged(definition), calm)
    again = status.observe(definition, judged(definition, PAGE), calm + timedelta(hours=1))

    assert isinstance(violated, SloViolated)
    assert recovered == SloRecovered(
        tenant_id="acme",
        slo_id="slo-1",
        plugin="@acme/plugin-cost-insights",
        version="2.3.0",
        tier="page-1h",
        severity="page",
        violation_id=violated.violation_id,
        violated_at=t0,
        recovered_at=calm,
        short_window_burn_rate=1.0,
        long_window_burn_rate=0.5,
        threshold=14.4,
        slo_ok=True,
        name="@acme/plugin-cost-insights@2.3.0",
        scope="version",
    )
    assert [type(e) for e in again] == [SloViolated]
    assert again[0].violation_id != violated.violation_id
    assert (status.state, status.violated_at) == (SloState.VIOLATED, calm + timedelta(hours=1))


def test_faster_tier_inhibits_slower_ones(definition: SloDefinition, t0: datetime) -> None:
    """With the page firing, tripped ticket tiers are held back; they speak when it stops."""
    status = SloStatus(slo_id="slo-1")
    first = status.observe(definition, judged(definition, PAGE | {"ticket-1d", "ticket-3d"}), t0)
    held_back = {n: t.state for n, t in status.tiers.items() if n != "page-1h"}
    later = t0 + timedelta(minutes=20)
    second = status.observe(definition, judged(definition, {"ticket-1d", "ticket-3d"}), later)

    assert [(type(e).__name__, e.tier) for e in first] == [("SloViolated", "page-1h")]
    # The page stopped: it recovers (the SLO is still violated) and the fastest ticket speaks.
    assert [(type(e).__name__, e.tier) for e in second] == [
        ("SloRecovered", "page-1h"),
        ("SloViolated", "ticket-1d"),
    ]
    assert isinstance(second[0], SloRecovered)
    assert not second[0].slo_ok
    assert held_back == {"ticket-1d": TierState.INHIBITED, "ticket-3d": TierState.INHIBITED}
    assert status.tiers["ticket-1d"].state is TierState.FIRING
    assert status.tiers["ticket-3d"].state is TierState.INHIBITED
    assert status.state is SloState.VIOLATED


def test_slower_tier_first_then_escalation_pages(definition: SloDefinition, t0: datetime) -> None:
    """A ticket firing does not hold back a page that trips later: the page is announced too."""
    status = SloStatus(slo_id="slo-1")
    ticket = status.observe(definition, judged(definition, {"ticket-3d"}), t0)
    page = status.observe(
        definition, judged(definition, PAGE | {"ticket-3d"}), t0 + timedelta(hours=1)
    )

    assert [e.tier for e in ticket] == ["ticket-3d"]
    assert [e.tier for e in page] == ["page-1h"]
    assert {n: t.state for n, t in status.tiers.items()} == {
        "page-1h": TierState.FIRING,
        "ticket-3d": TierState.FIRING,
    }


def test_burning_without_traffic_does_not_start_a_tier(
    definition: SloDefinition, t0: datetime
) -> None:
    """A tier that burns but lacks min_events in its short window does not start firing."""
    status = SloStatus(slo_id="slo-1")
    assert status.observe(definition, judged(definition, burning=PAGE), t0) == []
    assert status.state is SloState.OK


def test_disabled_tier_stops_firing(definition: SloDefinition, t0: datetime) -> None:
    """A tier disabled while it fires recovers at the next evaluation, with zero burn rates."""
    status = SloStatus(slo_id="slo-1")
    status.observe(definition, judged(definition, PAGE), t0)
    without_page = replace(definition, alerting=definition.alerting.with_disabled(frozenset(PAGE)))
    [recovered] = status.observe(without_page, judged(without_page), t0 + timedelta(minutes=1))

    assert isinstance(recovered, SloRecovered)
    assert (recovered.tier, recovered.slo_ok, recovered.short_window_burn_rate) == (
        "page-1h",
        True,
        0.0,
    )


def test_classic_violated_row_recovers(definition: SloDefinition, t0: datetime) -> None:
    """A row stored VIOLATED before tiers existed counts as its fastest tier firing; it recovers."""
    status = SloStatus(slo_id="slo-1", state=SloState.VIOLATED, violated_at=t0)
    [recovered] = status.observe(definition, judged(definition), t0 + timedelta(hours=1))

    assert isinstance(recovered, SloRecovered)
    assert (recovered.tier, recovered.violated_at, recovered.slo_ok) == ("page-1h", t0, True)
    assert status.state is SloState.OK


def test_definition_must_match(definition: SloDefinition, t0: datetime) -> None:
    """Observing with another SLO's definition is refused and changes nothing."""
    status = SloStatus(slo_id="slo-2")
    with pytest.raises(InvalidSloDefinitionError, match="slo-1"):
        status.observe(definition, judged(definition, PAGE), t0)
    assert status.state is SloState.OK


def test_naive_time_is_refused(definition: SloDefinition) -> None:
    """A time without a timezone is refused."""
    status = SloStatus(slo_id="slo-1")
    with pytest.raises(InvalidOutcomeError, match="timezone"):
        status.observe(definition, judged(definition, PAGE), datetime(2026, 3, 1))  # noqa: DTZ001 - the point
    assert status.state is SloState.OK


def test_stored_violation_needs_its_time() -> None:
    """A row saying VIOLATED without a time is corrupt and fails at load."""
    with pytest.raises(InvalidSloDefinitionError, match="violated_at"):
        SloStatus(slo_id="slo-1", state=SloState.VIOLATED)
