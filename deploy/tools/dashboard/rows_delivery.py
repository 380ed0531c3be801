"""Dashboard rows about event delivery per type: redeliveries, dead letters, latency, lag."""

from __future__ import annotations

from dashboard.panels import SVC, Layout, instant, stat, target, thresholds, timeseries


def delivery(g: Layout) -> None:
    """RED per event type as consumers see it."""
    g.row("Event delivery per type (consumers)")
    g.add(
        timeseries(
            "Handling latency p99 by type",
            [
                target(
                    "histogram_quantile(0.99, sum by (service, type, le) (rate("
                    f"portico_event_handle_duration_seconds_bucket{{{SVC}}}[$__rate_interval])))",
                    "{{service}} {{type}}",
                    # A dot per bucket names one trace that landed in it.
                    exemplar=True,
                )
            ],
            "s",
            description="From the inbox row to the handler's commit, per event type.",
        ),
        8,
    )
    g.add(
        timeseries(
            "Redelivered per second by type",
            [
                target(
                    "sum by (service, type) (rate("
                    f"portico_events_redelivered_total{{{SVC}}}[$__rate_interval]))",
                    "{{service}} {{type}}",
                )
            ],
            "ops",
            description="Deliveries after the first: naks after a failed handler, ack waits run "
            "out, restarts. Harmless to effects (the inbox), but a sign of trouble.",
        ),
        8,
    )
    g.add(
        timeseries(
            "Dead-lettered per second by consumer",
            [
                target(
                    "sum by (service, consumer, kind) (rate("
                    f"portico_events_dead_lettered_total{{{SVC}}}[$__rate_interval]))",
                    "{{consumer}} {{kind}}",
                )
            ],
            "ops",
            description="Events parked on the dead-letter stream, by why: the event type (its "
            "handler failed max_deliver times), undecodable or forged-source. See and redrive "
            "them with the DLQ API (/v1/dead-letters).",
        ),
        8,
    )


def consumers(g: Layout) -> None:
    """How far each durable consumer is behind, and how old events are when handled."""
    g.row("Consumer lag")
    g.add(
        timeseries(
            "Undelivered events by consumer",
            [
                target(
                    f"max by (service, consumer) (portico_consumer_pending{{{SVC}}})",
                    "{{consumer}}",
                    "A",
                ),
                target(
                    f"max by (service, consumer) (portico_consumer_ack_pending{{{SVC}}})",
                    "{{consumer}} (awaiting ack)",
                    "B",
                ),
            ],
            "short",
            description="The durable's backlog on the server (alert PorticoConsumerLagHigh at "
            "1000 for 10 minutes), and what it holds delivered but unacknowledged.",
        ),
        8,
    )
    g.add(
        timeseries(
            "Event age at handling, p99 by type",
            [
                target(
                    "histogram_quantile(0.99, sum by (service, type, le) (rate("
                    f"portico_event_age_seconds_bucket{{{SVC}}}[$__rate_interval])))",
                    "{{service}} {{type}}",
                    exemplar=True,
                )
            ],
            "s",
            description="From the event's time to its handling: outbox wait, relay, stream and "
            "consumer backlog together.",
        ),
        8,
    )
    g.add(
        stat(
            "Oldest unpublished outbox row",
            [
                instant(
                    f"max by (service) (portico_outbox_oldest_pending_seconds{{{SVC}}})",
                    "{{service}}",
                )
            ],
            "s",
            thresholds((None, "green"), (60, "orange"), (300, "red")),
            description="Alert PorticoOutboxOldestPendingOld past 5 minutes.",
        ),
        4,
    )
    g.add(
        stat(
            "Rows purged in range",
            [
                instant(
                    "sum by (table) (increase("
                    f"portico_retention_purged_rows_total{{{SVC}}}[$__range]))",
                    "{{table}}",
                )
            ],
            "short",
            thresholds((None, "blue")),
            description="Outbox, inbox, idempotency keys and logs deleted by the scheduled, "
            "batched retention purges (alert PorticoRetentionStalled).",
        ),
        4,
    )
