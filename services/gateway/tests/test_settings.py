"""Settings from the environment, and the process entry point."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_the_process_serves_and_stops_cleanly_on_sigterm() -> None:
    """`python -m portico_gateway` answers /healthz and, on SIGTERM, shuts down in order.

    Uvicorn drains and runs the lifespan shutdown, then re-raises the signal, so the
    exit status is the conventional "terminated by SIGTERM".
    """
    port = free_port()
    env = {**os.environ, "PORTICO_GATEWAY_PORT": str(port), "PORTICO_GATEWAY_AUTH_TARGET": "x:1"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "portico_gateway", env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            response = await _first_answer(http, "/healthz")
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


async def _first_answer(http: httpx.AsyncClient, path: str) -> httpx.Response:
    for _ in range(200):
        try:
            return await http.get(path)
        except httpx.ConnectError:
            await asyncio.sleep(0.05)
    raise AssertionError(f"nothing answered {path}")
