"""Prometheus metrics every service exposes on /metrics.

Names are part of the contract with deploy/prometheus and deploy/grafana.
Latency histograms carry the current trace id as an exemplar: a scrape that
asks for OpenMetrics (Prometheus with exemplar storage on) gets, per bucket,
the trace of one request that landed in it, to open in the tracing backend.
"""

from __future__ import annotations

from opentelemetry import trace
from prometheus_client import Counter, Gauge, Histogram, start_http_server

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

GRPC_REQUESTS = Counter(
    "portico_grpc_requests_total", "gRPC requests handled", ["service", "method", "code"]
)
GRPC_DURATION = Histogram(
    "portico_grpc_request_duration_seconds",
    "gRPC request latency",
    ["service", "method"],
    buckets=LATENCY_BUCKETS,
)
ACCESS_DENIED = Counter(
    "portico_access_denied_total",
    "Calls refused for a permission the caller's roles do not grant",
    ["service", "method", "permission"],
)
# Noisy neighbours: heavy RPCs each tenant runs now, and calls refused at its cap.
TENANT_CALLS_RUNNING = Gauge(
    "portico_tenant_calls_running",
    "Calls of a capped heavy RPC a tenant has running",
    ["service", "tenant", "method"],
)
TENANT_CALLS_REFUSED = Counter(
    "portico_tenant_calls_refused_total",
    "Calls of a heavy RPC refused because the tenant was at its concurrency cap",
    ["service", "tenant", "method"],
)
EVENTS_PUBLISHED = Counter(
    "portico_events_published_total", "Events published to JetStream", ["service", "type"]
)
EVENTS_CONSUMED = Counter(
    "portico_events_consumed_total",
    "Events consumed, by outcome (ok, duplicate, ignored, retry, dead_letter)",
    ["service", "type", "outcome"],
)
EVENTS_REDELIVERED = Counter(
    "portico_events_redelivered_total",
    "Deliveries of an event after its first (a nak, an ack wait run out, a restart)",
    ["service", "consumer", "type"],
)
EVENTS_DEAD_LETTERED = Counter(
    "portico_events_dead_lettered_total",
    "Events parked on the dead-letter stream, by why (the event type, undecodable, forged-source)",
    ["service", "consumer", "kind"],
)
EVENT_HANDLE_DURATION = Histogram(
    "portico_event_handle_duration_seconds",
    "Time to handle one consumed event (inbox row and the handler's transaction)",
    ["service", "type"],
    buckets=LATENCY_BUCKETS,
)
EVENT_AGE = Histogram(
    "portico_event_age_seconds",
    "From an event's time to its handling: what a consumer lags behind its producer",
    ["service", "type"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
CONSUMER_PENDING = Gauge(
    "portico_consumer_pending",
    "Messages a durable consumer has not been delivered yet (its lag, in messages)",
    ["service", "consumer"],
)
CONSUMER_ACK_PENDING = Gauge(
    "portico_consumer_ack_pending",
    "Messages delivered to a durable consumer and not yet acknowledged",
    ["service", "consumer"],
)
OUTBOX_PENDING = Gauge("portico_outbox_pending", "Outbox rows not yet published", ["service"])
OUTBOX_OLDEST_PENDING = Gauge(
    "portico_outbox_oldest_pending_seconds",
    "Age of the oldest outbox row not yet published (0 when none)",
    ["service"],
)
RETENTION_PURGED = Counter(
    "portico_retention_purged_rows_total",
    "Rows deleted by the retention purges",
    ["service", "table"],
)
RETENTION_LAST_RUN = Gauge(
    "portico_retention_last_success_timestamp_seconds",
    "When a table's retention purge last finished (Unix time)",
    ["service", "table"],
)
ROLLOUT_REACTION = Histogram(
    "portico_rollout_reaction_seconds",
    "From slo.violated detection to the rollout rolled back",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
SLO_BURN_RATE = Gauge(
    "portico_slo_burn_rate",
    "Current burn rate per SLO window",
    ["tenant", "plugin", "version", "window"],
)
# Per evaluator tick, summed over the places it covers: the SLOs it judged
# (those that can change) and all SLOs; their ratio is the share a tick costs.
SLO_TICK_EVALUATED = Gauge("portico_slo_tick_evaluated", "SLOs the last evaluator tick judged")
SLO_TICK_TOTAL = Gauge("portico_slo_tick_slos", "SLOs there were at the last evaluator tick")


def trace_exemplar() -> dict[str, str] | None:
    """The current trace id as an exemplar's labels, or None outside a sampled span."""
    span_context = trace.get_current_span().get_span_context()
    if not (span_context.is_valid and span_context.trace_flags.sampled):
        return None
    return {"trace_id": f"{span_context.trace_id:032x}"}


def observe_latency(histogram: Histogram, seconds: float) -> None:
    """Observes on a labelled histogram, with the current trace as the exemplar."""
    histogram.observe(seconds, exemplar=trace_exemplar())


def serve_metrics(port: int, host: str = "127.0.0.1") -> int:
    """Starts the /metrics HTTP endpoint; port 0 picks a free one, which is returned."""
    server, _thread = start_http_server(port, addr=host)
    return int(server.server_port)
