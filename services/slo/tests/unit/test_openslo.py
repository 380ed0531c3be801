"""OpenSLO v1: the specification's own examples round-trip; bad documents name their field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from portico_slo.adapters.memory import MemoryBurnRates, MemoryStore
from portico_slo.app import handlers, openslo
from portico_slo.domain.indicator import BudgetingMethod, PrometheusSource, SliKind
from portico_slo.domain.openslo import documents
from portico_slo.domain.openslo.reading import plain
from portico_slo.domain.scope import ScopeKind
from portico_slo.domain.templates import SloSpec
from portico_slo.domain.tiers import AlertPolicy, BurnRateTier, Severity
from portico_slo.errors import OpenSloError

EXAMPLES = Path(__file__).parent / "openslo_examples"
ALL = sorted(p.name for p in EXAMPLES.glob("*.yaml"))
WITH_SLOS = [n for n in ALL if "kind: SLO" in (EXAMPLES / n).read_text()]


def load(name: str) -> str:
    return (EXAMPLES / name).read_text()


def slo_documents(text: str) -> list[Any]:
    return [plain(d) for d in yaml.safe_load_all(text) if d and d.get("kind") == "SLO"]


def test_there_are_examples_of_every_kind() -> None:
    """The fixtures hold the spec's SLO, SLI, AlertPolicy, AlertCondition and target examples."""
    kinds = {d["kind"] for name in ALL for d in yaml.safe_load_all(load(name)) if d}
    assert kinds == {"SLO", "SLI", "AlertPolicy", "AlertCondition", "AlertNotificationTarget"}
    assert len(WITH_SLOS) == 5


@pytest.mark.parametrize("name", ALL)
def test_every_example_is_valid(name: str) -> None:
    """Each of the specification's examples passes the checks."""
    found = documents.bundle(openslo.parse_yaml(load(name)))
    assert (
        len(found.slos)
        + len(found.slis)
        + len(found.alert_policies)
        + len(found.alert_conditions)
        + len(found.others)
        >= 1
    )


@pytest.mark.parametrize("name", WITH_SLOS)
def test_example_slos_round_trip(name: str) -> None:
    """Importing an example and exporting it gives back the same documents."""
    text = load(name)
    definitions = openslo.read_definitions(text, tenant_id="acme")
    exported = openslo.write_yaml(definitions)

    assert slo_documents(exported) == slo_documents(text)
    again = openslo.read_definitions(exported, tenant_id="acme")
    assert [d.name for d in again] == [d.name for d in definitions]


def test_examples_read_as_the_spec_means() -> None:
    """Budgeting methods, windows, thresholds and multi-objective SLOs map as documented."""
    [search] = openslo.read_definitions(
        load("budgeting-method--occurences-slo.yaml"), tenant_id="a"
    )
    [main_page] = openslo.read_definitions(
        load("budgeting-method--ratio-timeslices.yaml"), tenant_id="a"
    )
    internal, sla = openslo.read_definitions(
        load("budgeting-method--timeslices-slo.yaml"), tenant_id="a"
    )

    assert (search.name, search.plugin, search.scope.kind) == (
        "search-slo",
        "web-shop",
        ScopeKind.PLUGIN,
    )
    assert (search.indicator.kind, search.latency_threshold_ms) == (SliKind.LATENCY, 499)  # lt 500
    assert (str(search.window.duration), search.window.rolling) == ("2w", True)
    assert (main_page.budgeting, main_page.timeslice_seconds) == (
        BudgetingMethod.RATIO_TIMESLICES,
        60,
    )
    assert (internal.name, sla.name) == ("service-availability.0", "service-availability.1")
    assert (internal.objective, sla.objective, internal.timeslice_target) == (0.995, 0.99, 0.99)
    assert (internal.window.rolling, internal.window.time_zone) == (False, "America/New_York")
    # The example's window is one minute ("1m"): shorter than any workbook tier.
    assert internal.alerting.tiers == ()


def test_refs_resolve_and_export_with_their_slo() -> None:
    """indicatorRef to a Prometheus SLI and alertPolicyRef are followed, and exported again."""
    text = (
        load("readme--sli-metrics.yaml")
        + "\n---\n"
        + """
apiVersion: openslo/v1
kind: AlertCondition
metadata: {name: fast-burn}
spec:
  severity: page
  condition: {kind: burnrate, op: gte, threshold: 14.4, lookbackWindow: 1h, alertAfter: 5m}
---
apiVersion: openslo/v1
kind: AlertPolicy
metadata: {name: pager}
spec:
  alertWhenBreaching: true
  conditions: [{conditionRef: fast-burn}]
  notificationTargets: []
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: requests
  labels: {portico.dev/plugin: "@acme/p", portico.dev/version: 2.0.0, team: payments}
spec:
  indicatorRef: readme-ratio-metric
  timeWindow: [{duration: 28d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{target: 0.999}]
  alertPolicies: [{alertPolicyRef: pager}]
"""
    )
    [slo] = openslo.read_definitions(text, tenant_id="acme")

    assert (slo.plugin, slo.version, slo.team) == ("@acme/p", "2.0.0", "payments")
    assert slo.indicator.prometheus == PrometheusSource(
        good='sum(localhost_server_requests{code=~"2xx|3xx",host="*",instance="127.0.0.1:9090"})',
        total='localhost_server_requests{code="total",host="*",instance="127.0.0.1:9090"}',
    )
    assert slo.alerting == AlertPolicy((BurnRateTier("fast-burn", Severity.PAGE, 3600, 300, 14.4),))
    exported = list(yaml.safe_load_all(openslo.write_yaml([slo])))
    assert [(d["kind"], d["metadata"]["name"]) for d in exported] == [
        ("SLI", "readme-ratio-metric"),
        ("AlertPolicy", "pager"),
        ("AlertCondition", "fast-burn"),
        ("SLO", "requests"),
    ]
    assert (
        openslo.read_definitions(openslo.write_yaml([slo]), tenant_id="acme")[0].alerting
        == slo.alerting
    )


async def test_native_slos_export_and_import_back(
    store: MemoryStore, gauge: MemoryBurnRates
) -> None:
    """An SLO made in Portico exports with its scope and tiers, and imports back the same."""
    spec = SloSpec(
        objective=0.995,
        budgeting=BudgetingMethod.TIMESLICES,
        timeslice_target=0.9,
        timeslice_seconds=60,
        labels=(("team", "cost"),),
        description="cost insights answer",
        disabled_tiers=frozenset({"ticket-3d"}),
    )
    created = await handlers.create_slo(
        store.uow_factory(),
        gauge,
        tenant_id="acme",
        plugin="@acme/p",
        version="2.0.0",
        rollout_id="r-1",
        spec=spec,
    )
    text = await openslo.export_openslo(store.uow_factory(), tenant_id="acme")
    [back] = openslo.read_definitions(text, tenant_id="acme")

    ours = created.definition
    assert back.scope == ours.scope
    assert (back.name, back.objective, back.budgeting, back.timeslice_target) == (
        ours.name,
        ours.objective,
        ours.budgeting,
        ours.timeslice_target,
    )
    assert back.alerting.enabled == ours.alerting.enabled
    assert (back.team, back.description) == ("cost", "cost insights answer")


async def test_changed_imports_export_their_changes(
    store: MemoryStore, gauge: MemoryBurnRates
) -> None:
    """An imported SLO updated in Portico exports its new target, the rest as imported."""
    [created] = await openslo.import_openslo(
        store.uow_factory(), gauge, tenant_id="acme", text=load("readme--slo-inline-sli.yaml")
    )
    await handlers.update_slo(
        store.uow_factory(),
        gauge,
        tenant_id="acme",
        slo_id=created.slo_id,
        spec=SloSpec(objective=0.97, name="foo-slo", display_name="Foo SLO"),
    )
    [doc] = slo_documents(await openslo.export_openslo(store.uow_factory(), tenant_id="acme"))
    [original] = slo_documents(load("readme--slo-inline-sli.yaml"))

    original["spec"]["objectives"][0]["target"] = 0.97
    assert doc == original


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("apiVersion: openslo/v2\nkind: SLO", "documents[0].apiVersion"),
        ("apiVersion: openslo/v1\nkind: Slo", "documents[0].kind"),
        ("apiVersion: openslo/v1\nkind: SLO\nmetadata: {}\nspec: {}", "documents[0].metadata.name"),
        ("key: [unclosed", "yaml (line 1, column 15)"),
    ],
)
def test_malformed_documents_name_the_path(text: str, path: str) -> None:
    """Errors name the document and field path, as INVALID_ARGUMENT."""
    with pytest.raises(OpenSloError) as raised:
        openslo.read_definitions(text, tenant_id="acme")
    assert raised.value.path == path
    assert raised.value.code == "INVALID_ARGUMENT"


def slo_text(**spec: Any) -> str:
    base: dict[str, Any] = {
        "service": "web",
        "indicator": {
            "metadata": {"name": "i"},
            "spec": {
                "ratioMetric": {
                    "good": {"metricSource": {"type": "Any"}},
                    "total": {"metricSource": {"type": "Any"}},
                }
            },
        },
        "timeWindow": [{"duration": "30d", "isRolling": True}],
        "budgetingMethod": "Occurrences",
        "objectives": [{"target": 0.99}],
    }
    doc = {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": {"name": "s"},
        "spec": base | spec,
    }
    return yaml.safe_dump(doc)


@pytest.mark.parametrize(
    ("spec", "path", "problem"),
    [
        ({"budgetingMethod": "Weekly"}, "documents[0].spec.budgetingMethod", "not one of"),
        (
            {"timeWindow": [{"duration": "1M", "isRolling": True}]},
            "SLO s: spec.objectives[0] (time_window.duration)",
            "calendar-only",
        ),
        (
            {"timeWindow": [{"duration": "30 days"}]},
            "documents[0].spec.timeWindow[0].duration",
            "like 5m",
        ),
        ({"objectives": [{"target": 1.5}]}, "documents[0].spec.objectives[0].target", "[0, 1)"),
        (
            {"objectives": [{"target": 0.9, "targetPercent": 90}]},
            "documents[0].spec.objectives[0]",
            "exactly one of target",
        ),
        (
            {
                "budgetingMethod": "Timeslices",
                "objectives": [{"target": 0.99, "timeSliceWindow": "1m"}],
            },
            "documents[0].spec.objectives[0].timeSliceTarget",
            "required",
        ),
        ({"indicatorRef": "missing"}, "documents[0].spec", "exactly one of indicator"),
        (
            {"alertPolicies": [{"alertPolicyRef": "nope"}]},
            "SLO s: spec.alertPolicies[0].alertPolicyRef",
            "no AlertPolicy",
        ),
        (
            {"objectives": [{"target": 0.9}]},
            "SLO s: spec.objectives[0] (burn_rate_threshold)",
            "can never trip",
        ),
    ],
)
def test_invalid_slos_name_the_field(spec: dict[str, Any], path: str, problem: str) -> None:
    """Each mistake is reported at its field path with what is wrong."""
    with pytest.raises(OpenSloError) as raised:
        openslo.read_definitions(slo_text(**spec), tenant_id="acme")
    assert raised.value.path == path
    assert problem in raised.value.problem


def test_a_low_burn_condition_cannot_guard_an_slo() -> None:
    """The README's condition (op lte) is valid OpenSLO but no Portico tier: refused at its path."""
    condition = yaml.safe_load(load("readme--alert-condition.yaml"))
    policy = {
        "kind": "AlertPolicy",
        "metadata": {"name": "p"},
        "spec": {"conditions": [condition], "notificationTargets": []},
    }
    with pytest.raises(OpenSloError) as raised:
        openslo.read_definitions(slo_text(alertPolicies=[policy]), tenant_id="acme")
    assert raised.value.path == "SLO s: spec.alertPolicies[0].spec.conditions[0].spec.condition.op"


async def test_dry_run_stores_nothing(store: MemoryStore, gauge: MemoryBurnRates) -> None:
    """A dry run returns the SLOs it would create and opens no transaction."""
    found = await openslo.import_openslo(
        store.uow_factory(),
        gauge,
        tenant_id="acme",
        text=load("budgeting-method--timeslices-slo.yaml"),
        dry_run=True,
    )
    assert [s.definition.name for s in found] == [
        "service-availability.0",
        "service-availability.1",
    ]
    assert store.transactions == 0
