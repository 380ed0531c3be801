"""The servicer's newer RPCs: specs, scopes, templates, OpenSLO, budgets and the dashboard."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from portico.slo.v1 import slo_pb2 as pb
from portico_common.clock import ManualClock
from portico_common.timestamps import to_timestamp
from portico_slo.adapters.memory import MemoryBurnRates, MemoryStore
from portico_slo.bootstrap import Dependencies, build
from portico_slo.entrypoints.grpc_api import SloServicer
from portico_slo.errors import InvalidSloDefinitionError

NO_CONTEXT: Any = None
TENANT = "acme"
PLUGIN = "@acme/p"


@pytest.fixture
def api(store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock) -> SloServicer:
    """The servicer as `build` wires it, on the in-memory store."""
    [registered, breaker_api] = build(
        Dependencies(uow=store.uow_factory(), clock=clock, gauge=gauge)
    ).servicers
    assert breaker_api.name == "portico.slo.v1.BreakerService"
    assert isinstance(registered.implementation, SloServicer)
    return registered.implementation


async def test_create_from_a_spec_and_read_it_back(api: SloServicer) -> None:
    """A spec with a calendar window, a latency SLI and custom tiers reads back as sent."""
    spec = pb.SloSpec(
        name="checkout-latency",
        objective=0.995,
        time_window=pb.TimeWindow(
            duration="1M", calendar_start="2026-01-01T00:00:00", time_zone="Europe/Paris"
        ),
        sli_kind=pb.SLI_KIND_LATENCY,
        latency_threshold_ms=400,
        tiers=[
            pb.BurnRateTier(
                name="fast",
                severity="page",
                long_window_seconds=3600,
                short_window_seconds=300,
                factor=14.4,
                enabled=True,
            ),
            pb.BurnRateTier(
                name="slow",
                severity="ticket",
                long_window_seconds=86_400,
                short_window_seconds=7200,
                factor=2,
                enabled=True,
            ),
        ],
        min_events=25,
        labels={"team": "checkout"},
    )
    created = await api.CreateSlo(
        pb.CreateSloRequest(tenant_id=TENANT, plugin=PLUGIN, version="1.0.0", spec=spec), NO_CONTEXT
    )
    got = (
        await api.GetSlo(pb.GetSloRequest(tenant_id=TENANT, slo_id=created.slo.slo_id), NO_CONTEXT)
    ).slo

    assert (got.name, got.scope, got.objective, got.min_events) == (
        "checkout-latency",
        pb.SCOPE_KIND_VERSION,
        0.995,
        25,
    )
    assert got.spec.time_window == pb.TimeWindow(
        duration="1M", rolling=False, calendar_start="2026-01-01T00:00:00", time_zone="Europe/Paris"
    )
    assert (got.spec.sli_kind, got.latency_threshold_ms) == (pb.SLI_KIND_LATENCY, 400)
    assert [(t.name, t.factor, t.severity) for t in got.spec.tiers] == [
        ("fast", 14.4, "page"),
        ("slow", 2.0, "ticket"),
    ]
    assert dict(got.spec.labels) == {"team": "checkout"}
    assert [(b.tier, b.factor) for b in got.tier_burns] == [("fast", 14.4), ("slow", 2.0)]


async def test_report_with_times_says_what_was_refused(
    api: SloServicer, clock: ManualClock
) -> None:
    """Outcome times are honoured; a too-late one is refused and named in `results`."""
    await api.CreateSlo(
        pb.CreateSloRequest(tenant_id=TENANT, plugin=PLUGIN, version="1.0.0", objective=0.99),
        NO_CONTEXT,
    )
    now = clock.now()
    reported = await api.ReportOutcomes(
        pb.ReportOutcomesRequest(
            tenant_id=TENANT,
            plugin=PLUGIN,
            version="1.0.0",
            outcomes=[
                pb.Outcome(success=True, latency_ms=5, at=to_timestamp(now - timedelta(minutes=1))),
                pb.Outcome(success=True, latency_ms=5, at=to_timestamp(now - timedelta(hours=1))),
            ],
        ),
        NO_CONTEXT,
    )

    assert (reported.accepted, reported.refused) == (1, 1)
    assert list(reported.results) == [pb.OUTCOME_RESULT_ACCEPTED, pb.OUTCOME_RESULT_TOO_LATE]


async def test_list_update_delete(api: SloServicer) -> None:
    """SLOs list by name in pages; an update replaces the spec; a delete removes it."""
    ids = []
    for version in ("1.0.0", "2.0.0", "3.0.0"):
        created = await api.CreateSlo(
            pb.CreateSloRequest(tenant_id=TENANT, plugin=PLUGIN, version=version, objective=0.99),
            NO_CONTEXT,
        )
        ids.append(created.slo.slo_id)
    first = await api.ListSlos(pb.ListSlosRequest(tenant_id=TENANT, page_size=2), NO_CONTEXT)
    rest = await api.ListSlos(
        pb.ListSlosRequest(tenant_id=TENANT, page_size=2, page_token=first.next_page_token),
        NO_CONTEXT,
    )
    updated = await api.UpdateSlo(
        pb.UpdateSloRequest(
            tenant_id=TENANT,
            slo_id=ids[0],
            spec=pb.SloSpec(objective=0.999, disabled_tiers=["ticket-3d"]),
        ),
        NO_CONTEXT,
    )
    await api.DeleteSlo(pb.DeleteSloRequest(tenant_id=TENANT, slo_id=ids[1]), NO_CONTEXT)
    left = await api.ListSlos(pb.ListSlosRequest(tenant_id=TENANT), NO_CONTEXT)

    assert [s.version for s in first.slos] + [s.version for s in rest.slos] == [
        "1.0.0",
        "2.0.0",
        "3.0.0",
    ]
    assert rest.next_page_token == ""
    assert updated.slo.objective == 0.999
    assert [t.name for t in updated.slo.spec.tiers if not t.enabled] == ["ticket-3d"]
    assert [s.slo_id for s in left.slos] == [ids[0], ids[2]]


async def test_ensure_and_templates(api: SloServicer) -> None:
    """A default template shapes the SLO EnsureVersionSlo makes, once."""
    await api.CreateSloTemplate(
        pb.CreateSloTemplateRequest(
            tenant_id=TENANT,
            template=pb.SloTemplate(
                name="strict", spec=pb.SloSpec(objective=0.999), is_default=True
            ),
        ),
        NO_CONTEXT,
    )
    first = await api.EnsureVersionSlo(
        pb.EnsureVersionSloRequest(tenant_id=TENANT, plugin=PLUGIN, version="2.0.0"), NO_CONTEXT
    )
    again = await api.EnsureVersionSlo(
        pb.EnsureVersionSloRequest(tenant_id=TENANT, plugin=PLUGIN, version="2.0.0"), NO_CONTEXT
    )
    canary = await api.EnsureVersionSlo(
        pb.EnsureVersionSloRequest(
            tenant_id=TENANT, plugin=PLUGIN, version="2.0.0", rollout_id="r1"
        ),
        NO_CONTEXT,
    )
    listed = await api.ListSloTemplates(pb.ListSloTemplatesRequest(tenant_id=TENANT), NO_CONTEXT)

    assert (first.created, again.created, again.slo.slo_id) == (True, False, first.slo.slo_id)
    assert first.slo.objective == 0.999
    assert (canary.slo.scope, canary.slo.short_window_seconds) == (pb.SCOPE_KIND_CANARY, 5)
    assert [(t.name, t.is_default, t.canary_tier.name) for t in listed.templates] == [
        ("strict", True, "canary")
    ]


async def test_openslo_import_export(api: SloServicer) -> None:
    """OpenSLO YAML imports into SLOs and exports back."""
    text = (Path(__file__).parent / "openslo_examples" / "readme--slo-inline-sli.yaml").read_text()
    imported = await api.ImportOpenSlo(
        pb.ImportOpenSloRequest(tenant_id=TENANT, yaml=text), NO_CONTEXT
    )
    exported = await api.ExportOpenSlo(pb.ExportOpenSloRequest(tenant_id=TENANT), NO_CONTEXT)

    assert [(s.name, s.plugin, s.objective) for s in imported.slos] == [("foo-slo", "foo", 0.98)]
    assert "name: foo-slo" in exported.yaml
    assert "sum:trace.http.request.hits.by_http_status{*}.as_count()" in exported.yaml


async def test_budget_violations_and_dashboard(api: SloServicer, clock: ManualClock) -> None:
    """A failing version shows its budget, its violation with evidence, and a zero health score."""
    created = await api.CreateSlo(
        pb.CreateSloRequest(tenant_id=TENANT, plugin=PLUGIN, version="1.0.0", objective=0.99),
        NO_CONTEXT,
    )
    await api.ReportOutcomes(
        pb.ReportOutcomesRequest(
            tenant_id=TENANT,
            plugin=PLUGIN,
            version="1.0.0",
            outcomes=[pb.Outcome(success=True)] * 70 + [pb.Outcome(success=False)] * 30,
        ),
        NO_CONTEXT,
    )
    budget = await api.GetErrorBudget(
        pb.GetErrorBudgetRequest(
            tenant_id=TENANT,
            slo_id=created.slo.slo_id,
            burn_windows_seconds=[300],
            history_points=2,
            history_step_seconds=900,
        ),
        NO_CONTEXT,
    )
    violations = await api.ListViolations(pb.ListViolationsRequest(tenant_id=TENANT), NO_CONTEXT)
    board = await api.GetSloDashboard(pb.GetSloDashboardRequest(tenant_id=TENANT), NO_CONTEXT)

    assert (budget.budget.bad_events, budget.budget.good_events) == (30, 70)
    assert budget.budget.consumed == pytest.approx(30.0)
    assert [round(b.burn_rate, 6) for b in budget.burns] == [30.0]
    assert len(budget.history) == 2
    [violation] = violations.violations
    assert (violation.tier, violation.short_bad, violation.short_good) == ("page-1h", 30, 70)
    assert [(p.plugin, p.health_score, p.violated) for p in board.plugins] == [(PLUGIN, 0.0, 1)]
    [panel] = board.slos
    assert [t.tier for t in panel.tiers] == ["page-1h", "page-6h", "ticket-1d", "ticket-3d"]
    assert [v.violation_id for v in panel.recent_violations] == [violation.violation_id]
    # Filled by the breaker and alerting contexts; empty from this one.
    assert (list(panel.breakers), list(panel.alerts)) == ([], [])


async def test_bad_spec_fields_are_named(api: SloServicer) -> None:
    """A malformed calendar start or severity is INVALID_ARGUMENT naming the field."""
    for spec, field in (
        (
            pb.SloSpec(
                objective=0.99, time_window=pb.TimeWindow(duration="1M", calendar_start="soon")
            ),
            "spec.time_window.calendar_start",
        ),
        (
            pb.SloSpec(objective=0.99, tiers=[pb.BurnRateTier(name="x", severity="urgent")]),
            "spec.tiers[0].severity",
        ),
    ):
        with pytest.raises(InvalidSloDefinitionError) as raised:
            await api.CreateSlo(
                pb.CreateSloRequest(tenant_id=TENANT, plugin=PLUGIN, version="1.0.0", spec=spec),
                NO_CONTEXT,
            )
        assert raised.value.field == field
