"""Dashboard rows about events and their effects: JetStream, outbox, rollbacks, SLOs."""

from __future__ import annotations

from dashboard.panels import (
    SVC,
    Layout,
    instant,
    stat,
    target,
    thresholds,
    timeseries,
)


def events(g: Layout) -> None:
    """JetStream traffic: events published and consumed, retries and dead letters."""
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


def outbox(g: Layout) -> None:
    """The transactional outbox: rows waiting for the relay."""
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


def rollback_reaction(g: Layout) -> None:
    """From slo.violated to rollout.rolled_back: the reaction time."""
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


def slo_burn_rates(g: Layout) -> None:
    """Tenants' SLOs as the slo service publishes them: its fastest tier's two windows."""
    g.row("Tenants' SLO burn rates (the slo service's fastest tier)")
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
            description="1 spends the error budget exactly over the SLO window. The slo service "
            "publishes its fastest tier's windows (5m and 1h for a 30-day SLO); the line is that "
            "tier's 14.4, crossed by both windows of a version that is being rolled back. The "
            "service judges every tier itself; ExportPrometheusRules gives a tenant all of them.",
            threshold_lines=thresholds((None, "transparent"), (14.4, "red")),
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
