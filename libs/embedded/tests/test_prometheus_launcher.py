"""The Prometheus launcher fails plainly when there is no binary, leaving nothing open."""

from __future__ import annotations

from pathlib import Path

import pytest

from portico_embedded import prometheus
from portico_embedded.errors import LauncherError
from portico_embedded.prometheus import PrometheusServer


def test_a_missing_binary_is_named_before_any_file_is_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No binary: the error says what to run, and no log file was opened (or left open)."""
    monkeypatch.delenv("PORTICO_PROMETHEUS_BIN", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(prometheus, "_REPO_TOOLS", tmp_path / "no-tools" / "prometheus")
    server = PrometheusServer(tmp_path / "prom", targets=["127.0.0.1:1"])
    with pytest.raises(LauncherError, match="make prometheus"):
        server.start(timeout=1)
    assert not server.log_path.exists()
    assert server.proc is None
