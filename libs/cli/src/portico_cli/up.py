"""`portico up`: run the whole suite in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from portico_cli import credentials, endpoints, leftovers, tls
from portico_cli.endpoints import Endpoints
from portico_cli.errors import CliError, StartupError
from portico_cli.paths import Home
from portico_cli.stopsignals import StopSignals
from portico_cli.supervisor import (
    HEALTH_TIMEOUT_SECONDS,
    SERVICES,
    Interrupted,
    Suite,
    missing_modules,
)
from portico_cli.table import format_table
from portico_cli.watched import watch

GATEWAY_PORT_ENV = "PORTICO_GATEWAY_PORT"


@dataclass(frozen=True)
class UpOptions:
    home: Path
    # None: 8080, or a free port when 8080 is taken. 0: a free port.
    gateway_port: int | None = None
    health_timeout: float = HEALTH_TIMEOUT_SECONDS


def say(line: str) -> None:
    print(line, flush=True)


def warn(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run(options: UpOptions) -> int:
    """Starts everything, waits for a signal or a failure, stops everything."""
    home = Home(options.home.absolute())
    home.root.mkdir(parents=True, exist_ok=True)
    signals = StopSignals()
    signals.install()
    try:
        with _lock(home):
            return _run_locked(home, options, signals)
    finally:
        signals.restore()


def _run_locked(home: Home, options: UpOptions, signals: StopSignals) -> int:
    missing = missing_modules()
    if missing:
        raise StartupError(
            "cannot start the suite: nothing to run for "
            + ", ".join(f"`python -m {m}`" for m in missing)
            + " (is the package installed, with a __main__.py?)"
        )
    # Holding the lock, anything found is from a run that died without cleaning up.
    endpoints.remove(home.endpoints)
    leftovers.stop_leftovers(home.processes, say)
    secrets, created = credentials.load_or_create(home.secrets)
    say(f"{'generated' if created else 'using'} the suite's secrets in {home.secrets} (mode 0600)")
    database = credentials.database_passwords(home.secrets, SERVICES)
    # Made once, reused while good, renewed before it expires.
    ca = tls.prepare(home, SERVICES, say)
    identities = credentials.service_secrets(home.secrets, SERVICES)
    suite = Suite(
        home,
        secrets,
        signals,
        say,
        health_timeout=options.health_timeout,
        database_passwords=database,
        service_secrets=identities,
        ca=ca,
    )
    failure: str | None = None
    try:
        try:
            suite.start(options.gateway_port)
            found = suite.endpoints()
            endpoints.write(home.endpoints, found)
            say("")
            say(describe(found, home, suite))
            failure = watch(suite)
        except Interrupted:
            say(f"received {signals.name} while starting; stopping")
        except StartupError as exc:
            failure = str(exc)
        if failure is not None:
            # Said before stopping, so the reason comes first on the terminal.
            warn(f"portico up: {failure}")
    finally:
        # Removed first: from here on nothing should find and call the suite.
        endpoints.remove(home.endpoints)
        killed = suite.stop()
        home.processes.unlink(missing_ok=True)
    for name in killed:
        warn(f"warning: {name} did not stop within its grace period and was killed")
    if failure is not None:
        warn("portico up: stopped everything after the failure above")
        return 1
    say("stopped")
    return 0


def describe(found: Endpoints, home: Home, suite: Suite) -> str:
    """The endpoints as the user reads them: infrastructure, then one row per service."""
    infra = suite.infra
    nats_note = f"embedded, data in {home.nats_store}" if infra and infra.nats else "yours"
    pg_note = f"embedded, data in {home.postgres_data}" if infra and infra.postgres else "yours"
    top = format_table(
        [
            ["gateway", found.gateway, f"pid {found.gateway_pid}, log {home.log_for('gateway')}"],
            ["nats", found.nats, nats_note],
            ["postgres", found.database, pg_note],
            ["tls", str(home.tls), _tls_note(suite)],
        ]
    )
    rows = [["service", "gRPC", "metrics", "pid", "log"]]
    rows += [
        [name, svc.grpc, svc.metrics, str(svc.pid), str(home.log_for(name))]
        for name, svc in found.services.items()
    ]
    return "\n".join(
        [
            "Portico is up.",
            "",
            top,
            "",
            format_table(rows),
            "",
            f"  admin client   {found.admin_client_id} (secret in {home.secrets})",
            f"  endpoints      {home.endpoints}",
            "  next           `portico status`, `portico demo` (in another terminal)",
            "",
            "Press Ctrl-C to stop.",
        ]
    )


def _tls_note(suite: Suite) -> str:
    if suite.ca is None:
        return "off"
    infra = suite.infra
    parts = ["gRPC: mutual TLS"]
    parts.append("NATS: TLS" if infra is not None and infra.nats_ca else "NATS: yours")
    if infra is not None and infra.postgres is not None:
        # Said plainly: the embedded build cannot serve TLS (see portico_embedded.postgres).
        parts.append("PostgreSQL: plain TCP on 127.0.0.1 (the embedded build has no SSL)")
    return "; ".join(parts)


def gateway_port_from(flag: int | None) -> int | None:
    """The flag, else $PORTICO_GATEWAY_PORT, else None (8080 or a free port)."""
    if flag is not None:
        return flag
    raw = os.environ.get(GATEWAY_PORT_ENV)
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise CliError(f"{GATEWAY_PORT_ENV}={raw!r} is not a port number") from None


@contextlib.contextmanager
def _lock(home: Home) -> Iterator[None]:
    """One `portico up` per home; the lock dies with the process, however it ends."""
    fd = os.open(home.lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            raise CliError(
                f"`portico up` is already running for {home.root} (pid {holder});"
                " see `portico status`"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)
