"""Ports for `portico up`: a preferred port when free, else 0, and what a server reports.

The supervisor never hands a process a port that it chose by binding and
releasing it: that port could be taken by anyone before the process binds it.
A process gets its preferred port when that is free now, else 0 (the system
picks one), and says in its ready file which ports it bound.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from portico_cli.errors import StartupError

#: The gRPC port each service asks for while it is free.
GRPC_PORTS = {
    "tenancy": 50061,
    "auth": 50062,
    "security": 50063,
    "compat": 50064,
    "rollout": 50065,
    "slo": 50066,
}
GATEWAY_PORT = 8080
#: Moves the block of preferred gRPC ports (first service, then +1, ...), e.g. for a
#: second suite on the same machine: PORTICO_UP_GRPC_BASE_PORT=51061.
GRPC_BASE_PORT_VARIABLE = "PORTICO_UP_GRPC_BASE_PORT"


def preferred_grpc_ports() -> dict[str, int]:
    """Each service's preferred gRPC port, moved as PORTICO_UP_GRPC_BASE_PORT says."""
    base = os.environ.get(GRPC_BASE_PORT_VARIABLE, "").strip()
    if not base:
        return dict(GRPC_PORTS)
    if not base.isdigit() or not 0 < int(base) <= 65536 - len(GRPC_PORTS):
        raise StartupError(f"{GRPC_BASE_PORT_VARIABLE}={base!r} is not a port number")
    return {svc: int(base) + i for i, svc in enumerate(GRPC_PORTS)}


#: What a server's log says when its port was taken first (gRPC, uvicorn, NATS, PostgreSQL).
_BIND_FAILURES = ("address already in use", "failed to bind")


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on `host:port` now.

    SO_REUSEADDR as servers set it, so a port in TIME_WAIT after a restart
    counts as free while one with a listener does not.
    """
    if not 0 < port < 65536:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def preferred_or_any(port: int | None) -> int:
    """`port` when it is free now, else 0: the server binds whatever the system gives it."""
    return port if port and port_is_free(port) else 0


def read_ready_file(path: Path, pid: int) -> dict[str, int] | None:
    """The ports a process reported once serving; None until it has (or if it is not `pid`'s).

    The writer renames a complete file into place, so a file that exists is whole.
    """
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("pid") != pid:
        return None
    return {str(key): int(value) for key, value in data.items() if isinstance(value, int)}


def bind_failed(log: str) -> bool:
    """Whether a server's log says it could not bind its port."""
    text = log.lower()
    return any(failure in text for failure in _BIND_FAILURES)


@dataclass
class Ports:
    """The ports each process was asked to bind (0: any), then the ones it reported."""

    asked: dict[str, int] = field(default_factory=dict)
    grpc: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, int] = field(default_factory=dict)
    gateway: int = 0
    #: Started on a preferred port, so a bind failure there earns one retry on port 0.
    retryable: set[str] = field(default_factory=set)


def plan_ports(gateway_port: int | None, say: Callable[[str], None]) -> Ports:
    """The port each process is asked to bind: its default when free now, else 0.

    An explicit gateway port must be free, and is not traded for another.
    """
    ports = Ports()
    for svc, preferred in preferred_grpc_ports().items():
        ports.asked[svc] = preferred_or_any(preferred)
        if ports.asked[svc]:
            ports.retryable.add(svc)
        else:
            say(f"port {preferred} is taken; {svc} binds a free port")
    if gateway_port is None:
        ports.asked["gateway"] = preferred_or_any(GATEWAY_PORT)
        if ports.asked["gateway"]:
            ports.retryable.add("gateway")
        else:
            say(f"port {GATEWAY_PORT} is taken; the gateway binds a free port")
    elif gateway_port == 0:
        ports.asked["gateway"] = 0
    elif not port_is_free(gateway_port):
        raise StartupError(
            f"gateway port {gateway_port} is in use; stop what listens there,"
            " or pass --gateway-port 0 for a free port"
        )
    else:
        ports.asked["gateway"] = gateway_port
    return ports
