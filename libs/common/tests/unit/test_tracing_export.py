"""Which span exporter the standard OTEL_* variables select."""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

from portico_common.tracing import span_processor


def exporter_of(environ: dict[str, str]) -> object:
    processor = span_processor(environ)
    if processor is None:
        return None
    assert isinstance(processor, BatchSpanProcessor)
    exporter = processor._batch_processor._exporter
    processor.shutdown()
    return exporter


def test_nothing_is_exported_unless_asked() -> None:
    """No endpoint and no exporter named: no exporter retrying a collector nobody runs."""
    assert exporter_of({}) is None


def test_an_endpoint_alone_exports_over_otlp() -> None:
    """OTEL_EXPORTER_OTLP_ENDPOINT (or the traces one) is enough to export over OTLP/gRPC."""
    assert isinstance(
        exporter_of({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317"}), OTLPSpanExporter
    )
    traces = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4317"}
    assert isinstance(exporter_of(traces), OTLPSpanExporter)


def test_the_exporter_named_wins() -> None:
    """otlp by name exports to the default endpoint; none and a disabled SDK export nothing."""
    assert isinstance(exporter_of({"OTEL_TRACES_EXPORTER": "otlp"}), OTLPSpanExporter)
    assert isinstance(exporter_of({"OTEL_TRACES_EXPORTER": "console"}), ConsoleSpanExporter)
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317"}
    assert exporter_of(endpoint | {"OTEL_TRACES_EXPORTER": "none"}) is None
    assert exporter_of(endpoint | {"OTEL_SDK_DISABLED": "true"}) is None
