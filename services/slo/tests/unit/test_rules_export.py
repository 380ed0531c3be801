"""ExportPrometheusRules and the rule file's YAML: what a team loads into its own Prometheus."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from portico.slo.v1 import slo_pb2 as pb
from portico_common.clock import ManualClock
from portico_common.tenants import InvalidTenantIdError
from portico_slo.adapters.memory import MemoryBurnRates, MemoryStore
from portico_slo.app.rules import rules_yaml, ruleset_for
from portico_slo.bootstrap import Dependencies, build
from portico_slo.domain.indicator import Indicator, PrometheusSource
from portico_slo.domain.objective import SloDefinition
from portico_slo.entrypoints.grpc_api import SloServicer
from portico_slo.errors import InvalidRulesError, SloNotFoundError

NO_CONTEXT: Any = None
TENANT = "acme"
PULLED = pb.PrometheusSource(bad='http_requests_total{code=~"5.."}', total="http_requests_total")
OPENSLO = """
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-availability
  labels:
    team: checkout
  annotations:
    portico.dev/rules-group-by: service, region
    portico.dev/alert-name: CheckoutBudgetBurn
    portico.dev/runbook: https://runbooks.example/checkout
spec:
  service: "@acme/checkout"
  indicator:
    metadata:
      name: errors
    spec:
      ratioMetric:
        counter: true
        bad:
          metricSource:
            type: Prometheus
            spec:
              query: http_requests_total{code=~"5.."}
        total:
          metricSource:
            type: Prometheus
            spec:
              query: http_requests_total
  timeWindow:
    - duration: 28d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - target: 0.995
"""


@pytest.fixture
def api(store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock) -> SloServicer:
    """The servicer as `build` wires it, on the in-memory store."""
    servicers = build(Dependencies(uow=store.uow_factory(), clock=clock, gauge=gauge)).servicers
    [registered] = [s for s in servicers if s.name == "portico.slo.v1.SloService"]
    assert isinstance(registered.implementation, SloServicer)
    return registered.implementation


async def create(api: SloServicer, name: str, *, pulled: bool) -> str:
    spec = pb.SloSpec(name=name, objective=0.999, prometheus=PULLED if pulled else None)
    created = await api.CreateSlo(
        pb.CreateSloRequest(tenant_id=TENANT, plugin="@acme/p", version="1.0.0", spec=spec),
        NO_CONTEXT,
    )
    return created.slo.slo_id


async def test_a_tenant_export_holds_its_pulled_slos_and_lists_the_pushed_ones(
    api: SloServicer,
) -> None:
    """One rule group per pulled SLO; the pushed SLO is skipped with its reason."""
    pulled_id = await create(api, "api-errors", pulled=True)
    pushed_id = await create(api, "pushed", pulled=False)

    exported = await api.ExportPrometheusRules(
        pb.ExportPrometheusRulesRequest(tenant_id=TENANT), NO_CONTEXT
    )

    document = yaml.safe_load(exported.yaml)
    [group] = document["groups"]
    assert group["name"] == "slo/acme/api-errors"
    alerts = [r for r in group["rules"] if "alert" in r]
    assert [(a["labels"]["tier"], a["labels"]["slo"]) for a in alerts] == [
        ("page-1h", pulled_id),
        ("page-6h", pulled_id),
        ("ticket-1d", pulled_id),
        ("ticket-3d", pulled_id),
    ]
    assert {a["alert"] for a in alerts} == {"SLOBurnRate"}
    assert [(s.slo_id, s.name) for s in exported.skipped] == [(pushed_id, "pushed")]
    assert "ReportOutcomes" in exported.skipped[0].reason
    inhibit = yaml.safe_load(exported.alertmanager_yaml)["inhibit_rules"]
    assert [r["source_matchers"] for r in inhibit] == [
        ['tier_rank="1"'],
        ['tier_rank="2"'],
        ['tier_rank="3"'],
    ]
    assert exported.yaml.startswith("# Prometheus rules for the SLOs of tenant acme")


async def test_an_export_can_name_its_slos(api: SloServicer) -> None:
    """slo_ids narrows the export; an id the tenant does not have is NOT_FOUND."""
    await create(api, "first", pulled=True)
    second = await create(api, "second", pulled=True)

    exported = await api.ExportPrometheusRules(
        pb.ExportPrometheusRulesRequest(tenant_id=TENANT, slo_ids=[second]), NO_CONTEXT
    )

    assert [g["name"] for g in yaml.safe_load(exported.yaml)["groups"]] == ["slo/acme/second"]
    with pytest.raises(SloNotFoundError):
        await api.ExportPrometheusRules(
            pb.ExportPrometheusRulesRequest(tenant_id=TENANT, slo_ids=["nope"]), NO_CONTEXT
        )


async def test_a_tenant_without_slos_exports_an_empty_rule_file(api: SloServicer) -> None:
    """No SLOs: a valid rule file with no groups, and no inhibit rules."""
    exported = await api.ExportPrometheusRules(
        pb.ExportPrometheusRulesRequest(tenant_id=TENANT), NO_CONTEXT
    )

    assert yaml.safe_load(exported.yaml) == {"groups": None}
    assert yaml.safe_load(exported.alertmanager_yaml) == {"inhibit_rules": []}


async def test_imported_openslo_annotations_shape_the_exported_rules(api: SloServicer) -> None:
    """Group-by, alert name and runbook come from the document's annotations, labels too."""
    await api.ImportOpenSlo(pb.ImportOpenSloRequest(tenant_id=TENANT, yaml=OPENSLO), NO_CONTEXT)

    exported = await api.ExportPrometheusRules(
        pb.ExportPrometheusRulesRequest(tenant_id=TENANT), NO_CONTEXT
    )

    [group] = yaml.safe_load(exported.yaml)["groups"]
    first = group["rules"][0]
    assert "sum by (service, region) (rate(" in first["expr"]
    [page, *_] = [r for r in group["rules"] if "alert" in r]
    assert page["alert"] == "CheckoutBudgetBurn"
    assert page["labels"]["team"] == "checkout"
    assert page["annotations"]["runbook"] == "https://runbooks.example/checkout"
    # 0.02 of a 28-day budget in an hour.
    assert " >= 13.44\n" in page["expr"]
    assert yaml.safe_load(exported.alertmanager_yaml)["inhibit_rules"][0]["equal"] == [
        "alertname",
        "region",
        "service",
        "slo",
        "tenant",
    ]


async def test_the_export_needs_a_valid_tenant(api: SloServicer) -> None:
    """A malformed tenant id is refused before anything is read."""
    with pytest.raises(InvalidTenantIdError):
        await api.ExportPrometheusRules(
            pb.ExportPrometheusRulesRequest(tenant_id="not a tenant!"), NO_CONTEXT
        )


async def test_an_slo_asking_for_impossible_rules_is_skipped_not_fatal(api: SloServicer) -> None:
    """Grouping by a label the rules write skips that SLO, saying so; the others export."""
    await create(api, "fine", pulled=True)
    odd = OPENSLO.replace("service, region", "slo")
    await api.ImportOpenSlo(pb.ImportOpenSloRequest(tenant_id=TENANT, yaml=odd), NO_CONTEXT)

    exported = await api.ExportPrometheusRules(
        pb.ExportPrometheusRulesRequest(tenant_id=TENANT), NO_CONTEXT
    )

    assert [g["name"] for g in yaml.safe_load(exported.yaml)["groups"]] == ["slo/acme/fine"]
    [skipped] = exported.skipped
    assert skipped.name == "checkout-availability"
    assert "'slo' is a label the rules write themselves" in skipped.reason


def definition() -> SloDefinition:
    base = SloDefinition.with_defaults(
        slo_id="s", tenant_id="acme", plugin="p", version="1", objective=0.99
    )
    return SloDefinition(
        slo_id=base.slo_id,
        tenant_id=base.tenant_id,
        scope=base.scope,
        objective=base.objective,
        window=base.window,
        alerting=base.alerting,
        indicator=Indicator(prometheus=PrometheusSource(bad="e_total", total="r_total")),
    )


def test_the_rule_file_is_block_yaml_with_promql_as_literal_blocks() -> None:
    """Sequences are indented (yamllint's default) and multi-line PromQL reads as written."""
    text = rules_yaml(ruleset_for([definition()]))

    assert text.startswith("groups:\n  - name: slo/acme/p@1\n    rules:\n      - record: ")
    assert "        expr: |-\n          (\n            sum (rate(e_total[5m]))\n" in text


def test_an_included_rule_file_is_appended_as_written() -> None:
    """The included groups follow the generated ones, comments kept, its own header dropped."""
    include = (
        "# header of the included file\n"
        "groups:\n"
        "  # why this group exists\n"
        "  - name: ops\n"
        "    rules:\n"
        "      - alert: Down\n"
        "        expr: up == 0\n"
    )

    text = rules_yaml(ruleset_for([definition()]), header="# top\n", include=include)

    assert text.startswith("# top\ngroups:\n")
    assert text.endswith(
        "  # why this group exists\n  - name: ops\n    rules:\n"
        "      - alert: Down\n        expr: up == 0\n"
    )
    assert "header of the included file" not in text
    assert [g["name"] for g in yaml.safe_load(text)["groups"]] == ["slo/acme/p@1", "ops"]


def test_an_include_must_be_a_rule_file_with_its_own_group_names() -> None:
    """No top-level groups, or a group name the generated ones use, is refused."""
    with pytest.raises(InvalidRulesError, match="no top-level"):
        rules_yaml(ruleset_for([definition()]), include="rules: []\n")
    clash = "groups:\n  - name: slo/acme/p@1\n    rules: []\n"
    with pytest.raises(InvalidRulesError, match="named twice"):
        rules_yaml(ruleset_for([definition()]), include=clash)
