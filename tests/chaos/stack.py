"""The whole suite as `portico up` runs it, for the chaos suite to kill pieces of.

`Suite` starts `python -m portico_cli up` on a home of its own (its NATS,
PostgreSQL, six services and the gateway, each a process; mutual TLS, NATS
users, row-level security: as a user runs it), kills any of its processes
with SIGKILL by name, and waits until the supervisor has it back. `Books`
connect the ledger to the suite's stream (as the provisioner) and database
(as the administrator).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import nats
from nats.aio.client import Client as NatsClient

from portico_cli import credentials, endpoints, tls
from portico_cli.endpoints import Endpoints
from portico_cli.health import grpc_health, http_health
from portico_cli.paths import Home
from portico_cli.supervision import STATE_FILE, read_state
from portico_common.events.bus import servers_of
from portico_common.events.nats_permissions import PROVISIONER, inbox_prefix
from portico_common.events.topology import SERVICES
from portico_embedded.postgres import SUPERUSER
from portico_embedded.testing.ledger import Ledger

STARTUP_SECONDS = 180.0
# The processes a test may kill: every service and the gateway (the servers too).
PROCESSES = (*SERVICES, "gateway")
SERVERS = ("postgres", "nats-server")

# What the chaos suite changes from the defaults, all of it settings a user has:
CHAOS_ENV = {
    # An event a killed process had taken is delivered again this soon (30 s by default).
    "PORTICO_EVENT_ACK_WAIT_SECONDS": "2",
    # A request a kill cut off may be retried, under its idempotency key, this soon
    # (a minute by default): the retry runs it again, or finds it applied.
    "PORTICO_IDEMPOTENCY_STALE_SECONDS": "3",
    # A dependency that came back is seen at once, not two seconds later.
    "PORTICO_HEALTH_PROBE_SECONDS": "0.5",
    # A phase held for want of outcomes (they come late when slo or the gateway was
    # down) is judged again this soon (30 s by default).
    "PORTICO_ROLLOUT_RECHECK_SECONDS": "1",
    "PORTICO_LOG_LEVEL": "WARNING",
}


@dataclass
class Suite:
    """One running `portico up`, and what it wrote about itself under its home."""

    home: Home
    # None: a suite this process did not start (`attach`).
    proc: subprocess.Popen[bytes] | None
    log_path: Path

    @classmethod
    def start(cls, workdir: Path, env: Mapping[str, str] | None = None) -> Suite:
        """Starts `portico up` and returns once every process is healthy."""
        home = Home(workdir / "home")
        log_path = workdir / "up.log"
        # The suite starts its own NATS and PostgreSQL, whatever the caller has set.
        environ = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}
        environ |= {"PYTHONUNBUFFERED": "1", **CHAOS_ENV, **(env or {})}
        with log_path.open("ab") as log:
            proc = subprocess.Popen(  # noqa: S603 - our own CLI
                [
                    sys.executable,
                    "-m",
                    "portico_cli",
                    "up",
                    "--home",
                    str(home.root),
                    "--gateway-port",
                    "0",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environ,
            )
        suite = cls(home, proc, log_path)
        deadline = time.monotonic() + STARTUP_SECONDS
        while not home.endpoints.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                suite.stop()
                raise RuntimeError(f"portico up did not come up:\n{suite.output()[-6000:]}")
            time.sleep(0.2)
        return suite

    @classmethod
    def attach(cls, home: Path) -> Suite:
        """A suite already running on `home` (started with CHAOS_ENV), to iterate on tests."""
        return cls(Home(home), None, home / "up.log")

    def output(self) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM, as Ctrl-C; the exit code (killed after 90 s)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(90)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return int(self.proc.returncode)

    # ---- the processes ------------------------------------------------------

    def endpoints(self) -> Endpoints:
        return endpoints.read(self.home.endpoints)

    def supervised(self) -> dict[str, dict[str, Any]]:
        return read_state(self.home.run / STATE_FILE)

    def pid(self, name: str) -> int:
        """The pid of a service, the gateway, or an embedded server, as the supervisor knows it."""
        return int(self.supervised().get(name, {}).get("pid") or 0)

    def kill(self, name: str) -> int:
        """SIGKILL to one process of the suite: no shutdown hook runs. Returns its pid."""
        pid = self.pid(name)
        if not pid:
            raise RuntimeError(f"{name} is not running: {self.supervised().get(name)}")
        os.kill(pid, signal.SIGKILL)
        return pid

    def restarts(self, name: str) -> int:
        return int(self.supervised().get(name, {}).get("restarts") or 0)

    async def back(self, name: str, killed: int, *, within: float = 120.0) -> datetime:
        """Waits until the supervisor has restarted `name` and the suite is healthy.

        Returns when the supervisor started it again (its clock, UTC).
        """
        deadline = time.monotonic() + within
        while True:
            state = self.supervised().get(name, {})
            pid = int(state.get("pid") or 0)
            if pid and pid != killed and state.get("status") == "running":
                break
            self._check(deadline, f"{name} was not restarted")
            await asyncio.sleep(0.1)
        while not all(h.ok for h in (await asyncio.to_thread(self.health)).values()):
            self._check(deadline, f"the suite was not healthy again after {name} came back")
            await asyncio.sleep(0.2)
        return datetime.fromisoformat(str(state["started_at"]))

    def health(self) -> dict[str, Any]:
        """Every service's gRPC health and the gateway's /healthz, as `portico status` probes."""
        found = self.endpoints()
        probe_tls = tls.cli_grpc(tls.cli_ca(self.home))
        health = {
            name: grpc_health(svc.grpc, 1.0, probe_tls) for name, svc in found.services.items()
        }
        health["gateway"] = http_health(f"{found.gateway}/healthz", timeout=1.0)
        return health

    def _check(self, deadline: float, what: str) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(
                f"portico up exited ({self.proc.returncode}):\n{self.output()[-6000:]}"
            )
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}; supervisor: {self.supervised()}\n{self.output()[-3000:]}")

    # ---- looking behind the API -------------------------------------------------

    def admin_database_url(self) -> str:
        """The embedded PostgreSQL's superuser (behind every tenant's row-level security)."""
        secrets = credentials.database_passwords(self.home.secrets, SERVICES)
        port = json.loads(self.home.infra.read_text())["postgres"]["port"]
        return f"postgresql://{SUPERUSER}:{secrets.superuser}@127.0.0.1:{port}/portico"

    async def nats(self, url: str = "") -> NatsClient:
        """A connection that may read the streams: the provisioner's, over the suite's TLS.

        With `url` (a NATS of the test's own, without users) a plain connection to it.
        """
        if url:
            return await nats.connect(servers=servers_of(url), reconnect_time_wait=0.2)
        seeds = json.loads(self.home.nats_identities.read_text())
        ca = tls.cli_ca(self.home)
        return await nats.connect(
            servers=servers_of(self.endpoints().nats),
            nkeys_seed_str=seeds[PROVISIONER],
            inbox_prefix=inbox_prefix(PROVISIONER),
            tls=tls.cli_nats(ca),
            tls_handshake_first=ca is not None,
            reconnect_time_wait=0.2,
            max_reconnect_attempts=-1,
        )


@contextlib.asynccontextmanager
async def books_of(
    suite: Suite, nats_url: str = ""
) -> AsyncIterator[tuple[Ledger, asyncpg.Connection]]:
    """A ledger on the suite's stream and database, and the administrator's connection."""
    nc = await suite.nats(nats_url)
    try:
        admin = await asyncpg.connect(suite.admin_database_url())
        try:
            yield Ledger(nc.jetstream(), admin), admin
        finally:
            await admin.close()
    finally:
        await nc.close()
