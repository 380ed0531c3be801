"""The burn-rate gauge the Prometheus rules in deploy/ alert on."""

from __future__ import annotations

from prometheus_client import REGISTRY

from portico_slo.adapters.metrics import PrometheusBurnRates
from portico_slo.domain.objective import SloDefinition


def test_gauge_has_one_series_per_window(definition: SloDefinition) -> None:
    """Each window's burn rate is a series labelled with the window as the rules name it."""
    tenant = "metrics-test-tenant"
    labels = {"tenant": tenant, "plugin": definition.plugin, "version": definition.version}
    scoped = SloDefinition.with_defaults(
        slo_id="m1",
        tenant_id=tenant,
        plugin=definition.plugin,
        version=definition.version,
        objective=0.99,
    )

    PrometheusBurnRates().set(scoped, 16.5, 2.25)

    assert REGISTRY.get_sample_value("portico_slo_burn_rate", {**labels, "window": "5m"}) == 16.5
    assert REGISTRY.get_sample_value("portico_slo_burn_rate", {**labels, "window": "1h"}) == 2.25


def test_gauge_knows_which_slos_it_shows_burning(definition: SloDefinition) -> None:
    """An SLO set above 0 is burning until it is set to 0, so the tick judges it until then."""
    gauge = PrometheusBurnRates()
    other = SloDefinition.with_defaults(
        slo_id="m3", tenant_id="metrics-test-tenant", plugin=definition.plugin,
        version="9.9.9", objective=0.99,
    )  # fmt: skip

    gauge.set(definition, 0.0, 1.5)
    gauge.set(other, 0.0, 0.0)
    assert gauge.burning() == {definition.slo_id}
    gauge.set(definition, 0.0, 0.0)
    assert gauge.burning() == frozenset()
