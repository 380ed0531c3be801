"""Prometheus metrics every service exposes on /metrics.

Names are part of the contract with deploy/prometheus and deploy/grafana.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

GRPC_REQUESTS = Counter(
    "portico_grpc_requests_total", "gRPC requests handled", ["service", "method", "code"]
)
GRPC_DURATION = Histogram(
    "portico_grpc_request_duration_seconds",
    "gRPC request latency",
    ["service", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
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
OUTBOX_PENDING = Gauge("portico_outbox_pending", "Outbox rows not yet published", ["service"])
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


def serve_metrics(port: int, host: str = "127.0.0.1") -> int:
    """Starts the /metrics HTTP endpoint; port 0 picks a free one, which is returned."""
    server, _thread = start_http_server(port, addr=host)
    return int(server.server_port)
