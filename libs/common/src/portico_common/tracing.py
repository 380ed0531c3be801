"""OpenTelemetry tracing: one trace from the HTTP request to the rollback.

Context crosses gRPC as metadata and NATS as message headers, both in W3C
`traceparent` form via the global propagator.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

_configured = False


def configure_tracing(service: str) -> None:
    """Installs the SDK tracer provider once per process.

    Spans are created and propagated; exporting them is left to the
    deployment (an OTLP exporter added here by configuration later).
    """
    global _configured  # noqa: PLW0603 - process-wide, set once
    if _configured:
        return
    trace.set_tracer_provider(TracerProvider(resource=Resource.create({"service.name": service})))
    _configured = True


def tracer() -> trace.Tracer:
    return trace.get_tracer("portico")


def current_trace_headers() -> dict[str, str]:
    """The current span context as W3C headers (empty when there is none)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextmanager
def span_from(
    carrier: Mapping[str, str], name: str, kind: trace.SpanKind = trace.SpanKind.CONSUMER
) -> Iterator[trace.Span]:
    """A span that continues the trace found in `carrier` (headers or metadata)."""
    ctx = propagate.extract(dict(carrier))
    token = context.attach(ctx)
    try:
        with tracer().start_as_current_span(name, kind=kind) as span:
            yield span
    finally:
        context.detach(token)


def current_ids() -> tuple[str, str]:
    """(trace_id, span_id) in hex for logs, or empty strings."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return "", ""
    return f"{span_context.trace_id:032x}", f"{span_context.span_id:016x}"
