"""Delivery outcomes on Prometheus: notifications by channel kind and outcome, and how long
a delivery took, retries included."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

ALERT_NOTIFICATIONS = Counter(
    "portico_slo_alert_notifications",
    "Alert notifications by channel kind and final outcome (delivered, failed, dropped)",
    ["kind", "outcome"],
)
ALERT_DELIVERY_ATTEMPTS = Counter(
    "portico_slo_alert_delivery_attempts",
    "Attempts to reach a channel, retries included",
    ["kind"],
)
ALERT_DELIVERY_SECONDS = Histogram(
    "portico_slo_alert_delivery_seconds",
    "Time from claiming a notification to its outcome, retries and backoff included",
    ["kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


class PrometheusDeliveryMetrics:
    def observe(self, kind: str, state: str, attempts: int, seconds: float) -> None:
        ALERT_NOTIFICATIONS.labels(kind or "none", state).inc()
        ALERT_DELIVERY_ATTEMPTS.labels(kind or "none").inc(attempts)
        ALERT_DELIVERY_SECONDS.labels(kind or "none").observe(seconds)
