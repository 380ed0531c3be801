"""Ports: the preferred one while it is free, else 0; ready files; bind failures in logs."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from portico_cli.errors import StartupError
from portico_cli.ports import (
    GRPC_PORTS,
    bind_failed,
    plan_ports,
    port_is_free,
    preferred_grpc_ports,
    preferred_or_any,
    read_ready_file,
)


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_a_listening_port_is_not_free(busy_port: int) -> None:
    """A port with a listener is busy; out-of-range ports never count as free."""
    assert not port_is_free(busy_port)
    assert not port_is_free(0)
    assert not port_is_free(70000)


def test_the_preferred_port_is_asked_for_while_free() -> None:
    """preferred_or_any returns the preference when nothing listens there."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    assert preferred_or_any(port) == port


def test_a_busy_or_missing_preference_leaves_the_choice_to_the_server(busy_port: int) -> None:
    """A taken port, None and 0 all become 0: the server binds what the system gives it."""
    assert preferred_or_any(busy_port) == 0
    assert preferred_or_any(None) == 0
    assert preferred_or_any(0) == 0


def test_a_ready_file_counts_only_for_the_process_that_wrote_it(tmp_path: Path) -> None:
    """Ports are read back for the right pid; a missing, partial or foreign file is None."""
    path = tmp_path / "svc.ready.json"
    assert read_ready_file(path, os.getpid()) is None
    path.write_text('{"grpc_port": 5')
    assert read_ready_file(path, os.getpid()) is None
    path.write_text(json.dumps({"grpc_port": 50061, "metrics_port": 4321, "pid": os.getpid()}))
    assert read_ready_file(path, os.getpid()) == {
        "grpc_port": 50061,
        "metrics_port": 4321,
        "pid": os.getpid(),
    }
    assert read_ready_file(path, os.getpid() + 1) is None


def test_bind_failures_are_recognised_in_the_servers_own_words() -> None:
    """gRPC, uvicorn, NATS and PostgreSQL messages count; other failures do not."""
    assert bind_failed("RuntimeError: Failed to bind to address 127.0.0.1:50061; set ...")
    uvicorn = "[Errno 98] error while attempting to bind on address ('127.0.0.1', 8080)"
    assert bind_failed(f"{uvicorn}: address already in use")
    assert bind_failed("listen tcp 127.0.0.1:4222: bind: address already in use")
    assert bind_failed('LOG:  could not bind IPv4 address "127.0.0.1": Address already in use')
    assert not bind_failed("InvalidPasswordError: password authentication failed")


def test_the_plan_asks_for_defaults_while_free_and_retries_only_those(busy_port: int) -> None:
    """Each service asks for its default or 0; only a default is retried; gateway 0 stays 0."""
    said: list[str] = []
    plan = plan_ports(0, said.append)
    assert set(plan.asked) == {*GRPC_PORTS, "gateway"}
    assert plan.asked["gateway"] == 0
    for svc, preferred in GRPC_PORTS.items():
        assert plan.asked[svc] in {0, preferred}
        assert (svc in plan.retryable) == (plan.asked[svc] == preferred)
        if plan.asked[svc] == 0:
            assert f"port {preferred} is taken; {svc} binds a free port" in said
    assert "gateway" not in plan.retryable


def test_an_explicit_gateway_port_in_use_is_refused_before_anything_starts(busy_port: int) -> None:
    """An explicit port is never traded for another: a busy one is a clear error."""
    with pytest.raises(StartupError, match=f"gateway port {busy_port} is in use"):
        plan_ports(busy_port, lambda _: None)


def test_the_preferred_grpc_ports_move_with_the_base_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """PORTICO_UP_GRPC_BASE_PORT moves the whole block, one port per service in order."""
    monkeypatch.setenv("PORTICO_UP_GRPC_BASE_PORT", "51000")
    assert list(preferred_grpc_ports().values()) == list(range(51000, 51000 + len(GRPC_PORTS)))
    assert list(preferred_grpc_ports()) == list(GRPC_PORTS)
    monkeypatch.setenv("PORTICO_UP_GRPC_BASE_PORT", "")
    assert preferred_grpc_ports() == GRPC_PORTS


@pytest.mark.parametrize("value", ["abc", "0", "65535", "-1"])
def test_a_base_port_that_is_no_port_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """A base port that is not a number, or leaves no room for every service, says so."""
    monkeypatch.setenv("PORTICO_UP_GRPC_BASE_PORT", value)
    with pytest.raises(StartupError, match="PORTICO_UP_GRPC_BASE_PORT"):
        preferred_grpc_ports()
