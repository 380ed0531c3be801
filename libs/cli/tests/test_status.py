"""`portico status` when the suite is not running, or has gone away."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from portico_cli import endpoints
from portico_cli.endpoints import Endpoints, ServiceEndpoint
from portico_cli.main import EXIT_NOT_RUNNING, main


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A port held (bound, never listening) for the test, so connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def test_no_endpoints_file_means_not_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 3 with a message that says how to start the suite."""
    assert main(["status", "--home", str(tmp_path)]) == EXIT_NOT_RUNNING
    assert "Start it with `portico up`" in capsys.readouterr().err


def test_a_file_left_by_a_dead_portico_up_is_recognised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], refusing_port: int
) -> None:
    """A stale endpoints.json (its writer gone) is not reported as a running suite."""
    dead = _dead_pid()
    endpoints.write(tmp_path / "endpoints.json", _endpoints(pid=dead, port=refusing_port))
    assert main(["status", "--home", str(tmp_path)]) == EXIT_NOT_RUNNING
    assert f"(pid {dead}) which has exited" in capsys.readouterr().err


def test_unreachable_processes_make_status_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], refusing_port: int
) -> None:
    """Every process gets a row; exit 1 when any is unhealthy."""
    import os

    endpoints.write(tmp_path / "endpoints.json", _endpoints(pid=os.getpid(), port=refusing_port))
    assert main(["status", "--home", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "auth" in out
    assert "gateway" in out
    assert "UNREACHABLE" in out
    assert "unhealthy: auth, gateway" in out


def test_home_comes_from_portico_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--home defaults to $PORTICO_HOME."""
    monkeypatch.setenv("PORTICO_HOME", str(tmp_path / "elsewhere"))
    assert main(["status"]) == EXIT_NOT_RUNNING
    assert str(tmp_path / "elsewhere" / "endpoints.json") in capsys.readouterr().err


def _endpoints(pid: int, port: int) -> Endpoints:
    return Endpoints(
        gateway=f"http://127.0.0.1:{port}",
        nats="nats://127.0.0.1:4222",
        database="postgresql://postgres@127.0.0.1:5432/portico",
        services={"auth": ServiceEndpoint(f"127.0.0.1:{port}", "http://127.0.0.1:1/metrics", pid)},
        admin_client_id="portico-admin",
        started_at="2026-01-01T00:00:00+00:00",
        pid=pid,
    )


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid
