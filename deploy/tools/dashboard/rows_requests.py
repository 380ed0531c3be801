"""Dashboard rows about requests: the gateway and the gRPC services."""

from __future__ import annotations

from dashboard.panels import (
    SERVER_ERRORS,
    SVC,
    Layout,
    target,
    thresholds,
    timeseries,
)


def gateway(g: Layout) -> None:
    """The gateway's HTTP traffic: requests by route, the 5xx ratio, latency."""
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


def grpc_services(g: Layout) -> None:
    """Every gRPC service's rate, server errors and duration (RED)."""
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
                    # Each bucket's exemplar is a trace id: a dot on the graph opens the trace.
                    exemplar=True,
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
