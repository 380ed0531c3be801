"""The suite's processes: started in order, probed until healthy, stopped.

auth starts first (every other service verifies tokens against it), then slo
(rollout is told its port), then the other services together, then the gateway
in front of them. Stopping runs the
other way round: gateway, services, auth, then the infrastructure.

Every process binds its own ports: its preferred gRPC (or HTTP) port when that
is free, else 0, and metrics on 0. Once serving it writes the ports it bound to
its ready file (`<home>/run/<name>.ready.json`), and only those ports go into
the next stage's settings, the health probes and endpoints.json. A process
whose preferred port was taken between the check and its bind is started once
more on port 0. Once started, the suite is watched (`watched.watch`): what
dies is restarted through the methods the watchdog uses here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from portico_cli import infra, leftovers, local_catalog, tls
from portico_cli.credentials import (
    ADMIN_CLIENT_ID,
    ADMIN_SECRET_ENV,
    CHANNEL_KEY_ENV,
    KEK_ENV,
    SERVICE_CLIENTS_ENV,
    DatabasePasswords,
    Secrets,
    ServiceSecrets,
)
from portico_cli.database import database_variables
from portico_cli.endpoints import Endpoints, ServiceEndpoint, redact_url
from portico_cli.errors import StartupError
from portico_cli.health import Health, grpc_health, http_health
from portico_cli.infra import Infra
from portico_cli.paths import Home
from portico_cli.placer import PlacerThread
from portico_cli.ports import Ports, bind_failed, plan_ports, read_ready_file
from portico_cli.procs import Child, describe_exit, log_tail, stop_all
from portico_cli.stopsignals import StopSignals
from portico_common.crypto.kms_local import LocalKms
from portico_common.dbsetup import migrations_package, placed_services
from portico_common.tls import GrpcClientTls
from portico_embedded.local_ca import LocalCa

SERVICES = ("auth", "tenancy", "security", "compat", "rollout", "slo")
# Started (and healthy) before the others, in this order.
FIRST = ("auth", "tenancy")
# tenancy's KMS settings: only tenancy gets them.
TENANCY_KMS_ENV = (
    "PORTICO_TENANCY_KMS",
    "PORTICO_TENANCY_KMS_KEY_FILE",
    "PORTICO_TENANCY_KMS_KEY",
    "PORTICO_TENANCY_KMS_VAULT_URL",
    "PORTICO_TENANCY_KMS_VAULT_TOKEN",
)
HEALTH_TIMEOUT_SECONDS = 60.0
HOST = "127.0.0.1"


class Interrupted(Exception):  # noqa: N818 - a control-flow signal, not an error
    """A stop signal arrived while the suite was starting."""


@dataclass
class Suite:
    home: Home
    secrets: Secrets
    signals: StopSignals
    say: Callable[[str], None]
    health_timeout: float = HEALTH_TIMEOUT_SECONDS
    services: dict[str, Child] = field(default_factory=dict)
    gateway: Child | None = None
    ports: Ports = field(default_factory=Ports)
    infra: Infra | None = None
    database_passwords: DatabasePasswords | None = None
    # Each service's own client secret at auth, and slo's channel-secret key.
    service_secrets: ServiceSecrets | None = None
    # The local CA (`tls.prepare`): every gRPC hop mutual TLS, NATS TLS. None: plaintext.
    ca: LocalCa | None = None
    # Places bridge and silo tenants (with the administrator's logins); None: not run.
    placer: PlacerThread | None = None
    _probe_tls: GrpcClientTls | None = field(default=None, init=False, repr=False)
    _started_at: str = field(
        default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"), init=False
    )

    # ---- starting ----------------------------------------------------------

    def start(self, gateway_port: int | None) -> None:
        """Infrastructure, services, gateway: each healthy before the next starts."""
        self._probe_tls = tls.cli_grpc(self.ca)
        self.infra = infra.start(
            self.home, self.say, self._database_passwords(), SERVICES, ca=self.ca
        )
        self.record()
        # After the infrastructure listens, so its ports already count as taken.
        self.ports = plan_ports(gateway_port, self.say)
        # tenancy's KEK: created once (0600), kept across runs like the other secrets.
        LocalKms.create(self.home.kms_key)
        auth = self.start_service("auth")
        self._wait_healthy([auth])
        # Before the others: they seal tenants' fields with data keys it hands out, and
        # load from it the tenants whose tokens they refuse.
        self._wait_healthy([self.start_service("tenancy")])
        self.start_placer()
        # slo before rollout, which is told slo's port (it ensures each version's SLO there);
        # compat with it, before security, which is told compat's port (declared resources).
        late = ("security", "rollout")
        self._wait_healthy([self.start_service(s) for s in SERVICES if s not in (*FIRST, *late)])
        # security before rollout as well: rollout's rollback saga is told its port.
        for svc in late:
            self._wait_healthy([self.start_service(svc)])
        self._wait_healthy([self.start_gateway()])

    def start_service(self, svc: str) -> Child:
        """Starts one service on the port planned (or last bound) for it."""
        child = Child(
            svc,
            [sys.executable, "-m", f"portico_{svc}"],
            self._service_env(svc),
            self.home.log_for(svc),
        )
        self.services[svc] = child
        return self._start(child)

    def start_placer(self) -> None:
        """Runs the placer when this run holds the administrator's and the migrator's logins."""
        found = self.require_infra().database
        if found is None or not (found.admin_url and found.migrator_url):
            self.say(
                "not placing bridge or silo tenants: no administrator's login was given"
                " (run `python -m portico_common.dbsetup place-pending` with one)"
            )
            return
        self.placer = PlacerThread(
            found.admin_url,
            found.migrator_url,
            {s: migrations_package(s) for s in placed_services()},
        )
        self.say("starting the placer (bridge and silo tenants)")
        self.placer.start()

    def start_gateway(self) -> Child:
        """Starts the gateway in front of the services."""
        # Assigned before it starts, so processes.json records it too.
        self.gateway = Child(
            "gateway",
            [sys.executable, "-m", "portico_gateway"],
            self._gateway_env(),
            self.home.log_for("gateway"),
        )
        return self._start(self.gateway)

    def _retry_lost_ports(self, pending: dict[str, Child]) -> bool:
        """Restarts on port 0 each pending process that exited having lost its port."""
        retried = False
        for name, child in list(pending.items()):
            if child.returncode() is not None and not self._bound(child):
                again = self._restart_on_any_port(child)
                if again is not None:
                    pending[name] = again
                    retried = True
        return retried

    def _restart_on_any_port(self, child: Child) -> Child | None:
        """A new process on port 0 when `child` lost its preferred port to another; else None."""
        name = child.name
        if name not in self.ports.retryable or not bind_failed(child.log_tail(lines=200)):
            return None
        self.ports.retryable.discard(name)
        self.say(
            f"{name} could not bind port {self.ports.asked[name]}, taken meanwhile;"
            " starting it again on a free port"
        )
        self.ports.asked[name] = 0
        return self.start_gateway() if name == "gateway" else self.start_service(name)

    def _start(self, child: Child) -> Child:
        if self.signals.requested:
            raise Interrupted
        self.say(f"starting {child.name}")
        ready_file = self.home.ready_file_for(child.name)
        ready_file.parent.mkdir(parents=True, exist_ok=True)
        ready_file.unlink(missing_ok=True)
        child.start()
        self.record()
        return child

    def _database_passwords(self) -> DatabasePasswords:
        if self.database_passwords is None:
            raise RuntimeError("portico up reads the database's passwords before it starts")
        return self.database_passwords

    def redactions(self) -> tuple[str, ...]:
        """The secrets no log tail shown to the user may contain."""
        passwords = self.database_passwords.values() if self.database_passwords else ()
        services = self.service_secrets.values() if self.service_secrets else ()
        return (*self.secrets.values(), *passwords, *services)

    def _base_env(self) -> dict[str, str]:
        # No child sees another's secrets: a service gets only its own database URL.
        private = {
            ADMIN_SECRET_ENV,
            KEK_ENV,
            SERVICE_CLIENTS_ENV,
            CHANNEL_KEY_ENV,
            *TENANCY_KMS_ENV,
            "PORTICO_TENANCY_TARGET",
            "PORTICO_AUTH_CLIENT_ID",
            "PORTICO_AUTH_CLIENT_SECRET",
            *database_variables(SERVICES),
        }
        env = {k: v for k, v in os.environ.items() if k not in private}
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _service_env(self, svc: str) -> dict[str, str]:
        env = self._base_env()
        env["PORTICO_NATS_URL"] = self.require_infra().nats_url
        env["PORTICO_DATABASE_URL"] = self.require_infra().database_url(svc)
        env["PORTICO_GRPC_PORT"] = str(self.ports.asked[svc])
        env["PORTICO_GRPC_REFLECTION"] = "true"
        env["PORTICO_METRICS_PORT"] = "0"
        env["PORTICO_READY_FILE"] = str(self.home.ready_file_for(svc))
        env |= self.require_infra().nats_env(svc)
        if self.ca is not None:
            env |= tls.service_env(self.ca, svc)
        identities = self.service_secrets
        if svc == "auth":
            env[ADMIN_SECRET_ENV] = self.secrets.admin_client_secret
            env[KEK_ENV] = self.secrets.key_encryption_key
            if identities is not None:
                # auth upserts every service's own client (svc-<service>) on start.
                env[SERVICE_CLIENTS_ENV] = json.dumps(identities.clients)
        else:
            env["PORTICO_AUTH_TARGET"] = f"{HOST}:{self.ports.grpc['auth']}"
            if identities is not None:
                env["PORTICO_AUTH_CLIENT_ID"] = f"svc-{svc}"
                env["PORTICO_AUTH_CLIENT_SECRET"] = identities.clients[svc]
        if svc == "auth":
            # Auth starts before tenancy: it finds tenancy's port in tenancy's ready file.
            env["PORTICO_TENANCY_TARGET_FILE"] = str(self.home.ready_file_for("tenancy"))
        elif svc != "tenancy":
            env["PORTICO_TENANCY_TARGET"] = f"{HOST}:{self.ports.grpc['tenancy']}"
        env |= self._own_env(svc, env)
        return env

    def _own_env(self, svc: str, env: dict[str, str]) -> dict[str, str]:
        """What only `svc` is given: the services it calls and its own keys."""
        own: dict[str, str] = {}
        identities = self.service_secrets
        if svc == "compat":
            # Which installed plugins need a version (the rollback saga's dependents).
            own |= local_catalog.catalog_env(self.home.compat_catalog, env)
        if svc == "slo" and identities is not None:
            own[CHANNEL_KEY_ENV] = identities.channel_key
        if svc == "rollout":
            own["PORTICO_ROLLOUT_SLO_TARGET"] = f"{HOST}:{self.ports.grpc['slo']}"
            # The rollback saga: compat's dependency graph, security's advisories.
            own["PORTICO_ROLLOUT_COMPAT_TARGET"] = f"{HOST}:{self.ports.grpc['compat']}"
            own["PORTICO_ROLLOUT_SECURITY_TARGET"] = f"{HOST}:{self.ports.grpc['security']}"
        if svc == "security":
            # An install's quota hold takes the CPU and memory the version declared to compat.
            own["PORTICO_SECURITY_COMPAT_TARGET"] = f"{HOST}:{self.ports.grpc['compat']}"
        if svc == "tenancy":
            own["PORTICO_TENANCY_KMS"] = "local"
            own["PORTICO_TENANCY_KMS_KEY_FILE"] = str(self.home.kms_key)
        return own

    def _gateway_env(self) -> dict[str, str]:
        env = self._base_env()
        env["PORTICO_GATEWAY_PORT"] = str(self.ports.asked["gateway"])
        env["PORTICO_GATEWAY_READY_FILE"] = str(self.home.ready_file_for("gateway"))
        for svc in SERVICES:
            env[f"PORTICO_GATEWAY_{svc.upper()}_TARGET"] = f"{HOST}:{self.ports.grpc[svc]}"
        if self.ca is not None:
            env |= tls.gateway_env(self.ca)
        return env

    def _bound(self, child: Child) -> bool:
        """Whether `child` has reported its ports (read from its ready file the first time)."""
        ports, name = self.ports, child.name
        if ports.gateway if child is self.gateway else name in ports.grpc:
            return True
        ready = read_ready_file(self.home.ready_file_for(name), child.pid)
        if ready is None:
            return False
        if child is self.gateway:
            ports.gateway = ready["port"]
        else:
            ports.grpc[name] = ready["grpc_port"]
            ports.metrics[name] = ready.get("metrics_port", 0)
        return True

    def _probe(self, child: Child) -> Health:
        if not self._bound(child):
            return Health(False, "STARTING (no ready file yet)", 0.0)
        if child is self.gateway:
            return http_health(f"http://{HOST}:{self.ports.gateway}/healthz", timeout=0.5)
        return grpc_health(f"{HOST}:{self.ports.grpc[child.name]}", 0.5, self._probe_tls)

    def require_infra(self) -> Infra:
        """The started NATS and PostgreSQL (or the external ones)."""
        if self.infra is None:
            raise RuntimeError("infrastructure is started in start()")
        return self.infra

    def _wait_healthy(self, children: Iterable[Child]) -> None:
        started = time.monotonic()
        deadline = started + self.health_timeout
        pending = {child.name: child for child in children}
        last: dict[str, Health] = {}
        while pending:
            self._retry_lost_ports(pending)
            # Any process started so far, not only this stage's: all must stay up.
            failure = self._exited("while starting")
            # A process may exit between the two looks: it gets its retry first.
            if failure is not None and not self._retry_lost_ports(pending):
                raise StartupError(failure)
            for name, child in list(pending.items()):
                last[name] = self._probe(child)
                if last[name].ok:
                    self.say(f"  {name} is healthy ({time.monotonic() - started:.1f}s)")
                    del pending[name]
            if not pending:
                return
            if self.signals.requested:
                raise Interrupted
            if time.monotonic() > deadline:
                name, child = next(iter(pending.items()))
                others = sorted(set(pending) - {name})
                also = f" (nor did {', '.join(others)})" if others else ""
                raise StartupError(
                    f"{name} did not become healthy within {self.health_timeout:.0f}s{also};"
                    f" last health check: {last.get(name, 'none')}.\n"
                    f"Last lines of {child.log_path}:\n{self.tail(child)}"
                )
            time.sleep(0.2)

    def tail(self, child: Child) -> str:
        """The last lines of the process's log, secrets redacted."""
        return child.log_tail(redact=self.redactions())

    def record(self) -> None:
        """Writes every running pid to processes.json, for `portico down` and leftovers."""
        procs = [(name, proc.pid) for name, proc, _ in self.infra_processes()]
        procs += [(c.name, c.pid) for c in self.children() if c.pid]
        leftovers.record(self.home.processes, procs)

    def infra_processes(self) -> list[tuple[str, subprocess.Popen[bytes], Path]]:
        """(name, process, log) of each embedded server running."""
        return self.infra.processes() if self.infra is not None else []

    def children(self) -> list[Child]:
        """The services and the gateway, started or not."""
        return [*self.services.values(), *([self.gateway] if self.gateway else [])]

    # ---- running ------------------------------------------------------------

    def endpoints(self) -> Endpoints:
        ports = self.ports
        if self.gateway is None:
            raise RuntimeError("the suite has not started")
        return Endpoints(
            gateway=f"http://{HOST}:{ports.gateway}",
            nats=redact_url(self.require_infra().nats_url),
            database=self._database_where(),
            services={
                svc: ServiceEndpoint(
                    grpc=f"{HOST}:{ports.grpc[svc]}",
                    metrics=f"http://{HOST}:{ports.metrics[svc]}/metrics",
                    pid=self.services[svc].pid,
                )
                for svc in SERVICES
            },
            admin_client_id=ADMIN_CLIENT_ID,
            started_at=self._started_at,
            pid=os.getpid(),
            gateway_pid=self.gateway.pid,
            tls=self.ca is not None,
        )

    def _database_where(self) -> str:
        found = self.require_infra().database
        return found.where if found is not None else ""

    def _exited(self, when: str) -> str | None:
        """The report on the first process that has exited, with its log's tail."""
        for child in self.children():
            code = child.returncode()
            if code is not None:
                return (
                    f"{child.name} {describe_exit(code)} {when}.\n"
                    f"Last lines of {child.log_path}:\n{self.tail(child)}"
                )
        for name, proc, log in self.infra_processes():
            code = proc.poll()
            if code is not None:
                tail = log_tail(log, redact=self.redactions())
                return f"{name} {describe_exit(code)} {when}.\nLast lines of {log}:\n{tail}"
        return None

    # ---- stopping -----------------------------------------------------------

    def stop(self) -> list[str]:
        """Stops whatever runs, in reverse order; returns what had to be killed."""
        killed: list[str] = []
        stages: list[list[Child]] = [
            [self.gateway] if self.gateway else [],
            [child for name, child in self.services.items() if name != "auth"],
            [self.services["auth"]] if "auth" in self.services else [],
        ]
        if self.placer is not None and self.placer.running():
            self.say("stopping the placer")
            if not self.placer.stop():
                killed.append("placer")
        for stage in stages:
            live = [(c.name, c.proc) for c in stage if c.proc is not None and c.running()]
            if not live:
                continue
            self.say(f"stopping {', '.join(name for name, _ in live)}")
            killed += stop_all(live, force=lambda: self.signals.forced)
        for name, proc, _ in self.infra_processes():
            if proc.poll() is None:
                self.say(f"stopping {name}")
        if self.infra is not None:
            self.infra.stop()
        return killed


def runnable(module: str) -> bool:
    """Whether `python -m module` would find something to run."""
    import importlib.util

    try:
        return importlib.util.find_spec(f"{module}.__main__") is not None
    except ImportError:
        return False


def missing_modules() -> list[str]:
    return [m for m in [*(f"portico_{s}" for s in SERVICES), "portico_gateway"] if not runnable(m)]
