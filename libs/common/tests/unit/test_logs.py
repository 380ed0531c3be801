"""Structured JSON logs that carry the service name and the current trace."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from portico_common.logs import configure_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging rewires the root logger; put pytest's handlers back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def _lines(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines() if line.strip()]


def test_stdlib_records_become_json_lines(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plain logging call is one JSON object with level, logger, service, time and extras."""
    configure_logging("rollout", "INFO", "json")
    logging.getLogger("portico_rollout.app").warning("phase baked", extra={"rollout": "r-1"})
    [line] = _lines(capsys.readouterr().err)
    assert line["event"] == "phase baked"
    assert line["level"] == "warning"
    assert line["logger"] == "portico_rollout.app"
    assert line["service"] == "rollout"
    assert line["rollout"] == "r-1"
    assert str(line["timestamp"]).endswith("Z")


def test_level_filters_records(restore_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    """Records below the configured level are not written."""
    configure_logging("rollout", "WARNING", "json")
    logging.getLogger("x").info("chatty")
    assert capsys.readouterr().err == ""


def test_records_inside_a_span_carry_its_ids(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """A record written inside a span names the span's trace and span ids."""
    configure_logging("slo", "INFO", "json")
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("detect") as span:
        logging.getLogger("portico_slo").info("burn rate tripped")
        context = span.get_span_context()
    assert trace.get_current_span().get_span_context().is_valid is False
    [line] = _lines(capsys.readouterr().err)
    assert line["trace_id"] == f"{context.trace_id:032x}"
    assert line["span_id"] == f"{context.span_id:016x}"


def test_records_outside_a_span_have_no_trace_ids(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a current span no empty trace fields are added."""
    configure_logging("slo", "INFO", "json")
    logging.getLogger("portico_slo").info("idle")
    [line] = _lines(capsys.readouterr().err)
    assert "trace_id" not in line
