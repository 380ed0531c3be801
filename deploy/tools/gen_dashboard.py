"""Generate deploy/grafana/portico-overview.json (the Grafana dashboard model).

The JSON is committed; this script is its source. Edit here, then run
`python3 deploy/tools/gen_dashboard.py` (standard library only); validate.sh
fails when the committed JSON differs from a fresh generation.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "grafana" / "portico-overview.json"
DS = {"type": "prometheus", "uid": "${datasource}"}
SVC = 'service=~"$service"'
# Server-side gRPC failures, spelled any way (see deploy/prometheus/rules.yml).
SERVER_ERRORS = (
    'code=~"(?i)unknown|deadline_?exceeded|unimplemented|internal|unavailable|data_?loss'
    '|2|4|12|13|14|15"'
)


class Layout:
    """Hands out ids and grid positions, row by row (the grid is 24 wide)."""

    def __init__(self) -> None:
        self.panels: list[dict[str, Any]] = []
        self.next_id = 1
        self.y = 0
        self.x = 0
        self.row_height = 0

    def row(self, title: str) -> None:
        self._newline()
        self.panels.append(
            {
                "type": "row",
                "title": title,
                "id": self._id(),
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
                "panels": [],
            }
        )
        self.y += 1

    def add(self, panel: dict[str, Any], w: int, h: int = 8) -> None:
        if self.x + w > 24:
            self._newline()
        panel["id"] = self._id()
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        panel.setdefault("datasource", DS)
        self.panels.append(panel)
        self.x += w
        self.row_height = max(self.row_height, h)

    def _newline(self) -> None:
        self.y += self.row_height
        self.x = 0
        self.row_height = 0

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id - 1


def target(expr: str, legend: str = "__auto", ref: str = "A", **extra: Any) -> dict[str, Any]:
    return {
        "datasource": DS,
        "refId": ref,
        "expr": expr,
        "legendFormat": legend,
        "range": True,
        "instant": False,
        **extra,
    }


def instant(expr: str, legend: str = "__auto", ref: str = "A", **extra: Any) -> dict[str, Any]:
    return {
        "datasource": DS,
        "refId": ref,
        "expr": expr,
        "legendFormat": legend,
        "range": False,
        "instant": True,
        **extra,
    }


def thresholds(*steps: tuple[float | None, str]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in steps]}


def timeseries(
    title: str,
    targets: list[dict[str, Any]],
    unit: str,
    *,
    description: str = "",
    stack: bool = False,
    threshold_lines: dict[str, Any] | None = None,
    min_zero: bool = True,
) -> dict[str, Any]:
    custom: dict[str, Any] = {
        "drawStyle": "line",
        "lineWidth": 1,
        "fillOpacity": 10,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
    }
    defaults: dict[str, Any] = {"unit": unit, "custom": custom}
    if min_zero:
        defaults["min"] = 0
    if threshold_lines:
        custom["thresholdsStyle"] = {"mode": "line+area"}
        defaults["thresholds"] = threshold_lines
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "legend": {
                "displayMode": "table",
                "placement": "right",
                "showLegend": True,
                "calcs": ["lastNotNull", "max"],
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    }


def stat(
    title: str,
    targets: list[dict[str, Any]],
    unit: str,
    steps: dict[str, Any],
    *,
    description: str = "",
) -> dict[str, Any]:
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "targets": targets,
        "fieldConfig": {
            "defaults": {"unit": unit, "thresholds": steps, "color": {"mode": "thresholds"}},
            "overrides": [],
        },
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background",
            "graphMode": "none",
            "justifyMode": "auto",
            "textMode": "value_and_name",
            "orientation": "auto",
        },
    }


def build() -> dict[str, Any]:
    g = Layout()

    g.row("Gateway (HTTP)")
    g.add(
        timeseries(
            "Requests per second by route",
            [
                target(
                    "sum by (route) (rate(portico_gateway_requests_total[$__rate_interval]))",
                    "{{route}}",
                )
            ],
            "reqps",
        ),
        8,
    )
    g.add(
        timeseries(
            "5xx ratio",
            [
                target(
                    'sum(rate(portico_gateway_requests_total{status=~"5.."}[$__rate_interval]))'
                    " / sum(rate(portico_gateway_requests_total[$__rate_interval]))",
                    "5xx",
                )
            ],
            "percentunit",
            threshold_lines=thresholds((None, "transparent"), (0.05, "red")),
        ),
        8,
    )
    g.add(
        timeseries(
            "p99 latency by route",
            [
                target(
                    "histogram_quantile(0.99, sum by (route, le) "
                    "(rate(portico_gateway_request_duration_seconds_bucket[$__rate_interval])))",
                    "{{route}}",
                )
            ],
            "s",
        ),
        8,
    )

    g.row("gRPC services: rate, errors, duration")
    g.add(
        timeseries(
            "Requests per second by service",
            [
                target(
                    f"sum by (service) (rate(portico_grpc_requests_total{{{SVC}}}[$__rate_interval]))",
                    "{{service}}",
                )
            ],
            "reqps",
        ),
        8,
    )
    g.add(
        timeseries(
            "Server-error ratio by service",
            [
                target(
                    f"sum by (service) (rate(portico_grpc_requests_total{{{SVC},{SERVER_ERRORS}}}"
                    "[$__rate_interval])) / sum by (service) "
                    f"(rate(portico_grpc_requests_total{{{SVC}}}[$__rate_interval]))",
                    "{{service}}",
                )
            ],
            "percentunit",
            description="Unknown, DeadlineExceeded, Unimplemented, Internal, "
            "Unavailable and DataLoss over all requests. Client errors (InvalidArgument, NotFound, "
            "...) are the service working as designed and are not counted.",
            threshold_lines=thresholds((None, "transparent"), (0.05, "red")),
        ),
        8,
    )
    g.add(
        timeseries(
            "Latency by service (p50 dashed, p99 solid)",
            [
                target(
                    "histogram_quantile(0.99, sum by (service, le) (rate("
                    f"portico_grpc_request_duration_seconds_bucket{{{SVC}}}[$__rate_interval])))",
                    "p99 {{service}}",
                    "A",
                ),
                target(
                    "histogram_quantile(0.50, sum by (service, le) (rate("
                    f"portico_grpc_request_duration_seconds_bucket{{{SVC}}}[$__rate_interval])))",
                    "p50 {{service}}",
                    "B",
                ),
            ],
            "s",
        ),
        8,
    )
    by_code = timeseries(
        "Requests per second by status code",
        [
            target(
                f"sum by (service, code) (rate(portico_grpc_requests_total{{{SVC}}}"
                "[$__rate_interval]))",
                "{{service}} {{code}}",
            )
        ],
        "reqps",
        stack=True,
    )
    g.add(by_code, 12)
    g.add(
        timeseries(
            "Slowest methods (p99, top 10)",
            [
                target(
                    "topk(10, histogram_quantile(0.99, sum by (service, method, le) (rate("
                    f"portico_grpc_request_duration_seconds_bucket{{{SVC}}}[$__rate_interval]))))",
                    "{{service}} {{method}}",
                )
            ],
            "s",
        ),
        12,
    )

    g.row("Events (JetStream)")
    g.add(
        timeseries(
            "Published per second by type",
            [
                target(
                    f"sum by (type) (rate(portico_events_published_total{{{SVC}}}[$__rate_interval]))",
                    "{{type}}",
                )
            ],
            "ops",
        ),
        8,
    )
    consumed = timeseries(
        "Consumed per second by outcome",
        [
            target(
                f"sum by (outcome) (rate(portico_events_consumed_total{{{SVC}}}[$__rate_interval]))",
                "{{outcome}}",
            )
        ],
        "ops",
        stack=True,
    )
    consumed["fieldConfig"]["overrides"] = [
        {
            "matcher": {"id": "byName", "options": name},
            "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": color}}],
        }
        for name, color in (
            ("ok", "green"),
            ("duplicate", "blue"),
            ("ignored", "purple"),
            ("retry", "orange"),
            ("dead_letter", "red"),
        )
    ]
    g.add(consumed, 8)
    g.add(
        stat(
            "Dead-lettered in range",
            [
                instant(
                    f"sum by (service, type) (increase(portico_events_consumed_total{{{SVC},"
                    'outcome="dead_letter"}[$__range]))',
                    "{{service}} {{type}}",
                )
            ],
            "short",
            thresholds((None, "green"), (1, "red")),
            description="Events given up after max_deliver attempts, now on the dead-letter "
            "stream. Their effects have not happened.",
        ),
        8,
    )

    g.row("Transactional outbox")
    g.add(
        timeseries(
            "Pending outbox events by service",
            [target(f"sum by (service) (portico_outbox_pending{{{SVC}}})", "{{service}}")],
            "short",
            description="Rows committed but not yet published to JetStream. A steady climb means "
            "the relay cannot keep up or NATS is unreachable.",
        ),
        16,
    )
    g.add(
        stat(
            "Pending now",
            [instant(f"sum(portico_outbox_pending{{{SVC}}})", "pending")],
            "short",
            thresholds((None, "green"), (100, "orange"), (1000, "red")),
        ),
        8,
    )

    g.row("Rollback reaction (slo.violated to rollout.rolled_back)")
    g.add(
        {
            "type": "heatmap",
            "title": "Reaction time distribution",
            "description": "From the slo.violated event to traffic back on the stable version.",
            "targets": [
                target(
                    "sum by (le) (increase(portico_rollout_reaction_seconds_bucket"
                    "[$__rate_interval]))",
                    "{{le}}",
                    format="heatmap",
                )
            ],
            "fieldConfig": {
                "defaults": {"custom": {"scaleDistribution": {"type": "linear"}}},
                "overrides": [],
            },
            "options": {
                "calculate": False,
                "cellGap": 1,
                "color": {"mode": "scheme", "scheme": "Oranges", "exponent": 0.5, "steps": 64},
                "yAxis": {"unit": "s", "axisPlacement": "left"},
                "rowsFrame": {"layout": "auto"},
                "tooltip": {"mode": "single"},
                "legend": {"show": True},
            },
        },
        12,
    )
    g.add(
        stat(
            "Reaction p50 / p99 over the range",
            [
                instant(
                    "histogram_quantile(0.50, sum by (le) (increase("
                    "portico_rollout_reaction_seconds_bucket[$__range])))",
                    "p50",
                    "A",
                ),
                instant(
                    "histogram_quantile(0.99, sum by (le) (increase("
                    "portico_rollout_reaction_seconds_bucket[$__range])))",
                    "p99",
                    "B",
                ),
            ],
            "s",
            thresholds((None, "green"), (0.25, "orange"), (1, "red")),
            description="Objective: p99 under 1s (alert PorticoRolloutReactionSlow).",
        ),
        6,
    )
    g.add(
        stat(
            "Rollbacks in range",
            [
                instant(
                    "sum(increase(portico_rollout_reaction_seconds_count[$__range]))", "rollbacks"
                )
            ],
            "short",
            thresholds((None, "blue")),
        ),
        6,
    )

    g.row("SLO burn rates")
    g.add(
        timeseries(
            "Burn rate by plugin version and window",
            [
                target(
                    'portico_slo_burn_rate{tenant=~"$tenant",plugin=~"$plugin"}',
                    "{{tenant}} {{plugin}}@{{version}} ({{window}})",
                )
            ],
            "x",
            description="1 spends the error budget exactly over the SLO window. Lines: 6 (ticket) "
            "and 14.4 (page) when every window of a version is above them.",
            threshold_lines=thresholds((None, "transparent"), (6, "orange"), (14.4, "red")),
        ),
        16,
    )
    table = {
        "type": "table",
        "title": "Fastest burning now (lowest window per version)",
        "targets": [
            instant(
                "topk(20, min by (tenant, plugin, version) "
                '(portico_slo_burn_rate{tenant=~"$tenant",plugin=~"$plugin"}))',
                format="table",
            )
        ],
        "fieldConfig": {
            "defaults": {
                "unit": "x",
                "thresholds": thresholds(
                    (None, "green"), (1, "yellow"), (6, "orange"), (14.4, "red")
                ),
                "custom": {"cellOptions": {"type": "color-background"}},
            },
            "overrides": [],
        },
        "options": {"showHeader": True, "sortBy": [{"displayName": "Value", "desc": True}]},
        "transformations": [
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True},
                    "renameByName": {"Value": "burn rate"},
                },
            }
        ],
    }
    g.add(table, 8)

    def query_var(name: str, label: str, query: str) -> dict[str, Any]:
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

    return {
        "uid": "portico-overview",
        "title": "Portico overview",
        "description": "RED per service, events, outbox, rollback reaction and SLO burn rates.",
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


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        if OUT.read_text() != text:
            print(f"{OUT} is stale: run python3 deploy/tools/gen_dashboard.py", file=sys.stderr)
            return 1
        print(f"{OUT.name} matches its generator")
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
