"""NATS and PostgreSQL for `portico up`: the user's, or embedded ones under the home.

Embedded servers keep their data in `<home>/nats` and `<home>/postgres` and
their ports in `<home>/infra.json`, so a restart finds the same streams, the
same databases and the same URLs. PostgreSQL is then made ready by
`database`: every service gets a URL of its own role. A remembered (or default) port is asked for
only while it is free; otherwise, or when it is taken before the server binds
it, the server chooses its own port.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import SecretStr

from portico_cli import database, nats_identities, tls
from portico_cli.credentials import DatabasePasswords
from portico_cli.database import ServiceDatabases
from portico_cli.endpoints import write_json
from portico_cli.errors import StartupError
from portico_cli.paths import Home
from portico_cli.ports import bind_failed, preferred_or_any
from portico_cli.procs import log_tail
from portico_common.events import provision
from portico_common.events.nats_permissions import PROVISIONER
from portico_embedded.errors import LauncherError
from portico_embedded.local_ca import LocalCa
from portico_embedded.nats import NatsServer
from portico_embedded.nats_identities import NatsIdentity
from portico_embedded.postgres import PostgresServer

NATS_URL_ENV = "PORTICO_NATS_URL"
NATS_PORT, NATS_MONITOR_PORT, POSTGRES_PORT = 4222, 8222, 5432

_Server = TypeVar("_Server", NatsServer, PostgresServer)


@dataclass
class Infra:
    """The URLs the services use, and the servers this run started (if any)."""

    nats_url: str
    database: ServiceDatabases | None = None
    nats: NatsServer | None = None
    postgres: PostgresServer | None = None
    nats_log: Path | None = None
    postgres_log: Path | None = None
    # The NATS users of an embedded server (each service signs in as its own);
    # empty for a server the user brings, which is configured by the user.
    nats_identities: dict[str, NatsIdentity] = field(default_factory=dict)
    # The CA whose certificate the embedded nats-server serves with (TLS), if any.
    nats_ca: LocalCa | None = None

    def nats_env(self, identity: str) -> dict[str, str]:
        """PORTICO_* settings that sign `identity` in to the embedded server."""
        found = self.nats_identities.get(identity)
        if found is None:
            return {}
        env = {"PORTICO_NATS_NKEY_SEED": found.seed, "PORTICO_NATS_PROVISIONED": "true"}
        if self.nats_ca is not None:
            env |= tls.nats_env(self.nats_ca, identity)
        return env

    def database_url(self, service: str) -> str:
        """The URL of `service`'s own database role."""
        if self.database is None:
            raise RuntimeError("the database is made ready in start()")
        return self.database.urls[service]

    def processes(self) -> list[tuple[str, subprocess.Popen[bytes], Path]]:
        """The running embedded servers with their logs, for watching."""
        found = []
        if self.postgres is not None and self.postgres.proc is not None and self.postgres_log:
            found.append(("postgres", self.postgres.proc, self.postgres_log))
        if self.nats is not None and self.nats.proc is not None and self.nats_log:
            found.append(("nats-server", self.nats.proc, self.nats_log))
        return found

    def stop(self) -> None:
        # PostgreSQL first: it is the one with clients that may still be closing.
        if self.postgres is not None:
            self.postgres.stop()
        if self.nats is not None:
            self.nats.stop()


def start(
    home: Home,
    say: Callable[[str], None],
    passwords: DatabasePasswords,
    services: tuple[str, ...],
    *,
    ca: LocalCa | None = None,
) -> Infra:
    """Uses the URLs from the environment; starts embedded servers for the rest.

    With `ca` the embedded nats-server speaks TLS only and wants client
    certificates of that CA.

    On failure the servers already started are stopped before StartupError.
    """
    nats_url = os.environ.get(NATS_URL_ENV, "")
    infra = Infra(nats_url)
    how, settings = database.choose(services)
    remembered = _read(home.infra)
    try:
        if not nats_url:
            _start_nats(home, infra, remembered, say, ca)
        if how == "services":
            infra.database = database.given_urls(settings, services, say)
        else:
            admin_url = settings.admin_database_url.get_secret_value()
            if how == "embedded":
                admin_url = _start_postgres(home, infra, remembered, passwords, say)
            infra.database = database.provision_and_migrate(admin_url, passwords, services, say)
    except BaseException:
        infra.stop()
        raise
    return infra


def _start_nats(
    home: Home,
    infra: Infra,
    remembered: dict[str, Any],
    say: Callable[[str], None],
    ca: LocalCa | None,
) -> None:
    saved = remembered.get("nats", {})
    identities = nats_identities.load_or_create(home.nats_identities)
    users = [identity.user_entry() for identity in identities.values()]
    port = preferred_or_any(_port(saved, "port") or NATS_PORT)
    monitor = preferred_or_any(_port(saved, "monitor_port") or NATS_MONITOR_PORT)
    infra.nats_log = home.nats_store / "nats.log"
    with_tls = " with TLS" if ca is not None else ""
    say(
        f"starting nats-server (JetStream){with_tls} on {_describe(port)},"
        f" data in {home.nats_store}"
    )
    server = _start_retrying(
        "nats-server",
        infra.nats_log,
        lambda port, monitor: NatsServer(
            home.nats_store,
            port=port,
            monitor_port=monitor,
            users=users,
            tls=ca.leaf(tls.NATS) if ca is not None else None,
            tls_client_ca=ca.ca_cert if ca is not None else None,
        ),
        ports=(port, monitor),
        say=say,
    )
    infra.nats = server
    infra.nats_url = server.url
    infra.nats_identities = identities
    infra.nats_ca = ca
    # The streams and every service's durable consumers exist before any
    # service starts: services may bind to them, never create or widen them.
    say("provisioning JetStream streams and consumers")
    settings = provision.ProvisionerSettings(
        nats_url=server.url, nats_nkey_seed=SecretStr(identities[PROVISIONER].seed)
    )
    if ca is not None:
        settings = settings.model_copy(update=tls.nats_fields(ca, tls.CLI))
    try:
        asyncio.run(provision.run(settings))
    except Exception as exc:  # noqa: BLE001 - any failure stops the start, with its reason
        raise StartupError(f"could not provision JetStream: {exc}") from None
    _remember(
        home.infra, remembered, "nats", {"port": server.port, "monitor_port": server.monitor_port}
    )


def _start_postgres(
    home: Home,
    infra: Infra,
    remembered: dict[str, Any],
    passwords: DatabasePasswords,
    say: Callable[[str], None],
) -> str:
    """Starts the embedded server; returns its superuser's URL."""
    saved = remembered.get("postgres", {})
    port = preferred_or_any(_port(saved, "port") or POSTGRES_PORT)
    # The launcher writes the server's output beside its data directory.
    infra.postgres_log = home.postgres_data.parent / f"{home.postgres_data.name}.log"
    first = not (home.postgres_data / "PG_VERSION").exists()
    say(
        f"starting PostgreSQL on {_describe(port)}, data in {home.postgres_data}"
        + (" (first run: initdb)" if first else "")
    )
    server = _start_retrying(
        "PostgreSQL",
        infra.postgres_log,
        lambda port, _: PostgresServer(home.postgres_data, port=port, password=passwords.superuser),
        ports=(port, 0),
        say=say,
    )
    infra.postgres = server
    _remember(home.infra, remembered, "postgres", {"port": server.port})
    return server.url


def _start_retrying(
    what: str,
    log: Path,
    make: Callable[[int, int], _Server],
    *,
    ports: tuple[int, int],
    say: Callable[[str], None],
) -> _Server:
    """Starts the server; once more on ports of its own choosing if ours were taken first."""
    offset = _size(log)
    server = make(*ports)
    try:
        server.start()
        return server
    except (LauncherError, subprocess.CalledProcessError) as exc:
        server.stop()
        taken = bind_failed(_read_from(log, offset))
        if not (taken and any(ports)):
            raise StartupError(_failed(what, exc, log, offset)) from None
    say(f"{what}: a port was taken before it could bind it; letting it choose its own")
    offset = _size(log)
    server = make(0, 0)
    try:
        server.start()
    except (LauncherError, subprocess.CalledProcessError) as exc:
        server.stop()
        raise StartupError(_failed(what, exc, log, offset)) from None
    return server


def _describe(port: int) -> str:
    return f"port {port}" if port else "a port of its own choosing"


def _failed(what: str, exc: Exception, log: Path, offset: int) -> str:
    return f"{what} did not start: {exc}\nlast lines of {log}:\n{log_tail(log, offset=offset)}"


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _port(saved: object, key: str) -> int | None:
    value = saved.get(key) if isinstance(saved, dict) else None
    return value if isinstance(value, int) else None


def _remember(path: Path, remembered: dict[str, Any], key: str, value: dict[str, int]) -> None:
    remembered[key] = value
    write_json(path, remembered)


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
