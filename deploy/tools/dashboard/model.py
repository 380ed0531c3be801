"""The Portico overview dashboard: its rows in order, variables and annotations."""

from __future__ import annotations

import json
from typing import Any

from dashboard.panels import DS, Layout
from dashboard.rows_delivery import consumers, delivery
from dashboard.rows_events import events, outbox, rollback_reaction, slo_burn_rates
from dashboard.rows_requests import gateway, grpc_services
from dashboard.rows_slos import suite_slos

#: Top to bottom; each function lays out one row and its panels.
ROWS = (
    gateway,
    grpc_services,
    suite_slos,
    events,
    delivery,
    consumers,
    outbox,
    rollback_reaction,
    slo_burn_rates,
)


def query_var(name: str, label: str, query: str) -> dict[str, Any]:
    """A multi-value template variable filled by a Prometheus label query."""
    return {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DS,
        "query": {"query": query, "refId": f"{name}-var"},
        "definition": query,
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
        "hide": 0,
        "options": [],
    }


def build() -> dict[str, Any]:
    """The dashboard model Grafana imports."""
    g = Layout()
    for row in ROWS:
        row(g)
    return {
        "uid": "portico-overview",
        "title": "Portico overview",
        "description": "RED per service, the suite's SLOs (budgets, burn per tier), events, "
        "outbox, rollback reaction and tenants' SLO burn rates.",
        "tags": ["portico"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "links": [],
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                },
                {
                    "datasource": DS,
                    "enable": True,
                    "hide": False,
                    "iconColor": "red",
                    "name": "Rollbacks",
                    "titleFormat": "rollback",
                    "expr": "sum(changes(portico_rollout_reaction_seconds_count[1m])) > 0",
                    "step": "1m",
                },
            ]
        },
        "templating": {
            "list": [
                {
                    "type": "datasource",
                    "name": "datasource",
                    "label": "Data source",
                    "query": "prometheus",
                    "refresh": 1,
                    "hide": 0,
                    "includeAll": False,
                    "multi": False,
                    "current": {},
                    "options": [],
                    "regex": "",
                },
                query_var(
                    "service", "Service", "label_values(portico_grpc_requests_total, service)"
                ),
                query_var(
                    "slo", "SLO", "label_values(slo:period_error_budget_remaining:ratio, slo_name)"
                ),
                query_var("tenant", "Tenant", "label_values(portico_slo_burn_rate, tenant)"),
                query_var(
                    "plugin",
                    "Plugin",
                    'label_values(portico_slo_burn_rate{tenant=~"$tenant"}, plugin)',
                ),
            ]
        },
        "panels": g.panels,
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
