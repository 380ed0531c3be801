"""Latency histograms carry the current trace id as an OpenMetrics exemplar."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.openmetrics.exposition import generate_latest

from portico_common.metrics import LATENCY_BUCKETS, observe_latency, trace_exemplar


def test_an_observation_inside_a_span_names_its_trace() -> None:
    """The bucket the observation lands in shows trace_id=<the span's trace> in OpenMetrics."""
    registry = CollectorRegistry()
    histogram = Histogram(
        "t_seconds", "test", ["method"], buckets=LATENCY_BUCKETS, registry=registry
    )
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("call") as span:
        observe_latency(histogram.labels("Get"), 0.003)
        trace_id = f"{span.get_span_context().trace_id:032x}"
    text = generate_latest(registry).decode()
    [bucket] = [line for line in text.splitlines() if 'le="0.005"' in line]
    assert f'# {{trace_id="{trace_id}"}} 0.003' in bucket


def test_no_exemplar_outside_a_span() -> None:
    """With no current span there is no trace to name, and nothing is attached."""
    assert trace_exemplar() is None
