"""OpenTelemetry tracing: one trace from the HTTP request to the rollback.

Context crosses gRPC as metadata and NATS as message headers, both in W3C
`traceparent` form via the global propagator. A NATS hop is a producer span
where the event is written and a consumer span where it is handled; the
consumer span continues the producer's trace and carries a link to it.

Spans are exported over OTLP/gRPC when the standard variables ask for it:
`OTEL_TRACES_EXPORTER=otlp`, or an `OTEL_EXPORTER_OTLP_ENDPOINT` /
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` with no exporter named. The exporter
and the batch processor read the rest themselves (`OTEL_EXPORTER_OTLP_*`
headers, timeout, insecure; `OTEL_BSP_*` batching; `OTEL_TRACES_SAMPLER`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

log = logging.getLogger(__name__)

_configured = False


def span_processor(environ: Mapping[str, str]) -> SpanProcessor | None:
    """The processor the OTEL_* variables ask for, or None when nothing is exported."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    named = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    # The specification's default exporter is otlp, but a service started with
    # no collector configured would then retry localhost:4317 forever: an
    # exporter is made only when asked for by name or by an endpoint.
    if named in {"", "otlp"} and (named == "otlp" or endpoint):
        # Imported here: only a process that exports loads grpc's OTLP stubs.
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter,
        )

        return BatchSpanProcessor(OTLPSpanExporter())
    if named == "console":
        return BatchSpanProcessor(ConsoleSpanExporter())
    if named not in {"", "none"}:
        log.warning(
            "unsupported OTEL_TRACES_EXPORTER; spans are not exported", extra={"exporter": named}
        )
    return None


def configure_tracing(service: str, environ: Mapping[str, str] | None = None) -> None:
    """Installs the SDK tracer provider once per process, exporting as OTEL_* says.

    The provider flushes its exporter when the process exits (the SDK
    registers that), so a service stopped with SIGTERM sends its last spans.
    """
    global _configured  # noqa: PLW0603 - process-wide, set once
    if _configured:
        return
    environ = os.environ if environ is None else environ
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    processor = span_processor(environ)
    if processor is not None:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    _configured = True


# One tracer for the process. Asking the SDK for it again on every span costs
# more than the span (a warnings filter and a scope built and compared each
# time); made before the provider is set, it is the API's proxy, which hands
# over to the SDK's tracer once `configure_tracing` has installed it.
_TRACER = trace.get_tracer("portico")


def tracer() -> trace.Tracer:
    return _TRACER


def current_trace_headers() -> dict[str, str]:
    """The current span context as W3C headers (empty when there is none)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextmanager
def span_from(
    carrier: Mapping[str, str],
    name: str,
    kind: trace.SpanKind = trace.SpanKind.CONSUMER,
    *,
    link: bool = False,
) -> Iterator[trace.Span]:
    """A span that continues the trace found in `carrier` (headers or metadata).

    With `link` the span also links to the span that wrote the carrier: a
    message's consumer names its producer, as the messaging conventions ask.
    """
    ctx = propagate.extract(dict(carrier))
    links: list[trace.Link] = []
    if link:
        producer = trace.get_current_span(ctx).get_span_context()
        if producer.is_valid:
            links.append(trace.Link(producer, {"messaging.operation": "publish"}))
    token = context.attach(ctx)
    try:
        with tracer().start_as_current_span(name, kind=kind, links=links) as span:
            yield span
    finally:
        context.detach(token)


@contextmanager
def producer_span(event_type: str, subject: str) -> Iterator[trace.Span]:
    """A span for writing one event: its context is what the message carries."""
    with tracer().start_as_current_span(
        f"publish {event_type}",
        kind=trace.SpanKind.PRODUCER,
        attributes={
            "messaging.system": "nats",
            "messaging.destination.name": subject,
            "messaging.operation": "publish",
        },
    ) as span:
        yield span


def current_ids() -> tuple[str, str]:
    """(trace_id, span_id) in hex for logs, or empty strings."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return "", ""
    return f"{span_context.trace_id:032x}", f"{span_context.span_id:016x}"
