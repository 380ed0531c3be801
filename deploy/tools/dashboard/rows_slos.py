"""Dashboard rows about the suite's own SLOs, from the generated SLO recording rules.

deploy/prometheus/rules.yml records, per SLO (and per service where an SLO
is grouped by it), `slo:tier_burn_rate:ratio` for each burn-rate tier and
`slo:period_error_budget_remaining:ratio`; these panels read them.
"""

from __future__ import annotations

from typing import Any

from dashboard.panels import Layout, instant, stat, target, thresholds, timeseries

SLO = 'slo_name=~"$slo",service=~"$service|"'
ALERT = "PorticoSLOErrorBudgetBurn"


def suite_slos(g: Layout) -> None:
    """Budget left per SLO and service, each tier's burn rate, and the tiers firing."""
    g.row("Suite SLOs: error budgets and burn rate per tier")
    g.add(
        stat(
            "Error budget remaining (30 days)",
            [
                instant(
                    f"slo:period_error_budget_remaining:ratio{{{SLO}}}",
                    "{{slo_name}} {{service}}",
                )
            ],
            "percentunit",
            thresholds((None, "red"), (0, "orange"), (0.25, "green")),
            description="1 - the period's burn rate: 100% is untouched, 0 spent, below 0 "
            "overspent. The gRPC SLOs are per service (the service variable narrows them).",
        ),
        8,
    )
    g.add(
        timeseries(
            "Burn rate per tier",
            [
                target(
                    f"slo:tier_burn_rate:ratio{{{SLO}}}",
                    "{{slo_name}} {{service}} {{tier}}",
                )
            ],
            "x",
            description="Each tier's burn rate is the lower of its two windows'; the tier fires "
            "when it reaches its factor: 14.4 (page-1h: 5m and 1h), 6 (page-6h: 30m and 6h), "
            "3 (ticket-1d: 2h and 1d), 1 (ticket-3d: 6h and 3d) for a 30-day SLO. 1 spends the "
            "budget exactly over the period.",
            threshold_lines=thresholds(
                (None, "transparent"), (1, "yellow"), (3, "orange"), (14.4, "red")
            ),
        ),
        16,
    )
    g.add(
        timeseries(
            "Error budget remaining over time",
            [
                target(
                    f"slo:period_error_budget_remaining:ratio{{{SLO}}}",
                    "{{slo_name}} {{service}}",
                )
            ],
            "percentunit",
            min_zero=False,
        ),
        12,
    )
    g.add(_firing(), 12)


def _firing() -> dict[str, Any]:
    """The tier alerts firing now, fastest tier first."""
    return {
        "type": "table",
        "title": "Tiers firing now",
        "description": "In Prometheus every tier of a fast burn fires; Alertmanager's inhibit "
        "rules (deploy/prometheus/alertmanager-inhibit.yml) keep the fastest per SLO.",
        "targets": [
            instant(
                f'ALERTS{{alertname="{ALERT}",alertstate="firing",{SLO}}}',
                format="table",
            )
        ],
        "fieldConfig": {"defaults": {}, "overrides": []},
        "options": {"showHeader": True, "sortBy": [{"displayName": "tier_rank", "desc": False}]},
        "transformations": [
            {
                "id": "organize",
                "options": {
                    "excludeByName": {
                        "Time": True,
                        "Value": True,
                        "__name__": True,
                        "alertname": True,
                        "alertstate": True,
                        "plugin": True,
                        "slo": True,
                    },
                    "indexByName": {
                        "slo_name": 0,
                        "service": 1,
                        "tier": 2,
                        "severity": 3,
                        "tier_rank": 4,
                    },
                },
            }
        ],
    }
