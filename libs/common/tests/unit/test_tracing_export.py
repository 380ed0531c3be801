"""Which span exporter the standard OTEL_* variables select, and the one tracer spans use."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import NoReturn

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

from portico_common.tracing import producer_span, span_from, span_processor, tracer


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


def test_spans_do_not_look_the_tracer_up_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process's tracer is made once: a span on the hot path asks the SDK for nothing."""

    def looked_up(*_: object, **__: object) -> NoReturn:
        raise AssertionError("trace.get_tracer called for a span")

    monkeypatch.setattr(trace, "get_tracer", looked_up)
    with producer_span("rollout.rolled_back", "portico.rollout.rolled_back") as span:
        assert span is not None
    with span_from({}, "consume slo.violated") as span:
        assert span is not None
    assert tracer() is tracer()


def test_a_tracer_made_before_the_provider_records_once_it_is_set() -> None:
    """The tracer exists from import, before `configure_tracing`; its spans still export."""
    script = (
        "from portico_common.tracing import configure_tracing, producer_span\n"
        "configure_tracing('portico-test')\n"
        "with producer_span('slo.violated', 'portico.slo.violated'):\n"
        "    pass\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OTEL_TRACES_EXPORTER"] = "console"
    done = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert '"name": "publish slo.violated"' in done.stdout
