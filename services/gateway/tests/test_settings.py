"""Settings from the environment, and the process entry point."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest

from portico_gateway.settings import GatewaySettings


def test_settings_read_the_portico_gateway_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    """PORTICO_GATEWAY_* variables configure the gateway; empty targets are left out."""
    monkeypatch.setenv("PORTICO_GATEWAY_PORT", "9090")
    monkeypatch.setenv("PORTICO_GATEWAY_DEADLINE_SECONDS", "2.5")
    monkeypatch.setenv("PORTICO_GATEWAY_ROLLOUT_TARGET", "127.0.0.1:50051")
    monkeypatch.setenv("PORTICO_GATEWAY_SLO_TARGET", "")

    settings = GatewaySettings()

    assert settings.port == 9090
    assert settings.deadline_seconds == 2.5
    assert settings.max_body_bytes == 8 * 1024 * 1024
    assert settings.upstreams() == {"rollout": "127.0.0.1:50051"}


def test_a_non_positive_deadline_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A zero deadline would fail every call, so it fails at start-up instead."""
    monkeypatch.setenv("PORTICO_GATEWAY_DEADLINE_SECONDS", "0")

    with pytest.raises(ValueError, match="deadline_seconds"):
        GatewaySettings()


async def test_the_process_serves_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """`python -m portico_gateway` on port 0 reports its port, answers /healthz, stops in order.

    The ready file appears only once uvicorn listens, with the port the system
    chose and the process id. Uvicorn drains and runs the lifespan shutdown on
    SIGTERM, then re-raises the signal, so the exit status is the conventional
    "terminated by SIGTERM".
    """
    ready_file = tmp_path / "gateway.ready.json"
    env = {
        **os.environ,
        "PORTICO_GATEWAY_PORT": "0",
        "PORTICO_GATEWAY_READY_FILE": str(ready_file),
        "PORTICO_GATEWAY_AUTH_TARGET": "x:1",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "portico_gateway", env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        ready = await _ready(ready_file, process)
        assert ready["pid"] == process.pid
        assert ready["port"] > 0
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ready['port']}") as http:
            response = await http.get("/healthz")
        assert response.json() == {"status": "ok", "upstreams": ["auth"]}
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=10) == -signal.SIGTERM
        assert process.stderr is not None
        log = (await process.stderr.read()).decode()
        assert "Application shutdown complete" in log
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_a_port_in_use_fails_the_start_and_writes_no_ready_file(tmp_path: Path) -> None:
    """A taken port makes the process exit non-zero before any ready file exists."""
    ready_file = tmp_path / "gateway.ready.json"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        env = {
            **os.environ,
            "PORTICO_GATEWAY_PORT": str(busy.getsockname()[1]),
            "PORTICO_GATEWAY_READY_FILE": str(ready_file),
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "portico_gateway", env=env, stderr=asyncio.subprocess.PIPE
        )
        code = await asyncio.wait_for(process.wait(), timeout=30)
    assert code != 0
    assert not ready_file.exists()


async def _ready(path: Path, process: asyncio.subprocess.Process) -> dict[str, int]:
    for _ in range(600):
        if process.returncode is not None:
            raise AssertionError(f"the gateway exited with {process.returncode} while starting")
        try:
            ready: dict[str, int] = json.loads(await asyncio.to_thread(path.read_text))
        except FileNotFoundError:
            await asyncio.sleep(0.05)
            continue
        return ready
    raise AssertionError(f"no ready file at {path}")
