"""Delivery outcomes are counted on Prometheus by channel kind and outcome."""

from __future__ import annotations

from prometheus_client import REGISTRY

from portico_slo.alerting.adapters.metrics import PrometheusDeliveryMetrics


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_an_outcome_counts_the_notification_its_attempts_and_its_time() -> None:
    """One failed webhook delivery after 3 attempts: +1 failed, +3 attempts, one duration."""
    before = (
        _value("portico_slo_alert_notifications_total", kind="webhook", outcome="failed"),
        _value("portico_slo_alert_delivery_attempts_total", kind="webhook"),
        _value("portico_slo_alert_delivery_seconds_count", kind="webhook"),
    )
    PrometheusDeliveryMetrics().observe("webhook", "failed", 3, 1.5)
    after = (
        _value("portico_slo_alert_notifications_total", kind="webhook", outcome="failed"),
        _value("portico_slo_alert_delivery_attempts_total", kind="webhook"),
        _value("portico_slo_alert_delivery_seconds_count", kind="webhook"),
    )
    assert [a - b for a, b in zip(after, before, strict=True)] == [1.0, 3.0, 1.0]
