"""`<home>/endpoints.json`: where the running suite listens.

Written by `portico up` once everything is healthy and removed when it stops;
read by `portico status` and `portico demo`. It never holds a secret: URLs
lose their passwords before they are written.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from portico_cli.errors import CliError, NotRunningError

_SECRET_QUERY_WORDS = ("password", "secret", "token", "key")


@dataclass(frozen=True)
class ServiceEndpoint:
    grpc: str
    metrics: str
    pid: int

    def to_json(self) -> dict[str, Any]:
        return {"grpc": self.grpc, "metrics": self.metrics, "pid": self.pid}


@dataclass(frozen=True)
class Endpoints:
    """The content of endpoints.json."""

    gateway: str
    nats: str
    database: str
    services: dict[str, ServiceEndpoint]
    admin_client_id: str
    started_at: str
    # Not needed by clients, but lets `status` tell a live suite from a stale file.
    pid: int = 0
    gateway_pid: int = 0
    # Whether the services and NATS speak TLS (the CA and the CLI's pair in <home>/tls).
    tls: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "gateway": self.gateway,
            "nats": self.nats,
            "database": self.database,
            "services": {name: svc.to_json() for name, svc in self.services.items()},
            "admin_client_id": self.admin_client_id,
            "started_at": self.started_at,
            "pid": self.pid,
            "gateway_pid": self.gateway_pid,
            "tls": self.tls,
        }

    @classmethod
    def from_json(cls, data: object, source: str = "endpoints.json") -> Endpoints:
        if not isinstance(data, dict):
            raise CliError(f"{source} is not a JSON object")
        try:
            services = {
                str(name): ServiceEndpoint(str(svc["grpc"]), str(svc["metrics"]), int(svc["pid"]))
                for name, svc in dict(data["services"]).items()
            }
            return cls(
                gateway=str(data["gateway"]),
                nats=str(data["nats"]),
                database=str(data["database"]),
                services=services,
                admin_client_id=str(data["admin_client_id"]),
                started_at=str(data["started_at"]),
                pid=int(data.get("pid", 0)),
                gateway_pid=int(data.get("gateway_pid", 0)),
                tls=bool(data.get("tls", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CliError(f"{source} is malformed ({exc!r}); restart `portico up`") from None


def write(path: Path, endpoints: Endpoints) -> None:
    """Writes atomically, so a reader never sees half a file."""
    write_json(path, endpoints.to_json())


def read(path: Path) -> Endpoints:
    """The endpoints of the running suite; NotRunningError if there is none."""
    try:
        raw = path.read_text()
    except FileNotFoundError:
        raise NotRunningError(
            f"Portico is not running: {path} does not exist. Start it with `portico up`"
            f" (using the same --home / PORTICO_HOME)."
        ) from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CliError(f"{path} is not valid JSON (line {exc.lineno})") from None
    return Endpoints.from_json(data, str(path))


def remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def write_json(path: Path, data: object, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")
    tmp.replace(path)


def redact_url(url: str) -> str:
    """The URL without credentials: no password, no secret-looking query values."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        # A NATS token travels as the user part alone (nats://TOKEN@host).
        if ":" not in userinfo and parts.scheme.startswith(("nats", "tls")):
            user = "***"
        netloc = f"{user}@{hostport}" if user else hostport
    query = urlencode(
        [
            (name, "***" if any(word in name.lower() for word in _SECRET_QUERY_WORDS) else value)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="*",
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
