"""The suite's processes: started in order, probed until healthy, watched, stopped.

auth starts first (every other service verifies tokens against it), then the
other services together, then the gateway in front of them. Stopping runs the
other way round: gateway, services, auth, then the infrastructure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from portico_cli import infra, leftovers
from portico_cli.credentials import ADMIN_CLIENT_ID, ADMIN_SECRET_ENV, KEK_ENV, Secrets
from portico_cli.endpoints import Endpoints, ServiceEndpoint, redact_url
from portico_cli.errors import StartupError
from portico_cli.health import Health, grpc_health, http_health
from portico_cli.infra import Infra
from portico_cli.paths import Home
from portico_cli.ports import pick_port, port_is_free
from portico_cli.procs import Child, describe_exit, log_tail, stop_all
from portico_cli.stopsignals import StopSignals

SERVICES = ("auth", "tenancy", "security", "compat", "rollout", "slo")
GRPC_PORTS = {
    "tenancy": 50061,
    "auth": 50062,
    "security": 50063,
    "compat": 50064,
    "rollout": 50065,
    "slo": 50066,
}
GATEWAY_PORT = 8080
HEALTH_TIMEOUT_SECONDS = 60.0
HOST = "127.0.0.1"


class Interrupted(Exception):  # noqa: N818 - a control-flow signal, not an error
    """A stop signal arrived while the suite was starting."""


@dataclass
class Ports:
    grpc: dict[str, int]
    metrics: dict[str, int]
    gateway: int


@dataclass
class Suite:
    home: Home
    secrets: Secrets
    signals: StopSignals
    say: Callable[[str], None]
    health_timeout: float = HEALTH_TIMEOUT_SECONDS
    services: dict[str, Child] = field(default_factory=dict)
    gateway: Child | None = None
    ports: Ports | None = None
    infra: Infra | None = None

    # ---- starting ----------------------------------------------------------

    def start(self, gateway_port: int | None) -> None:
        """Infrastructure, services, gateway: each healthy before the next starts."""
        self.infra = infra.start(self.home, self.say)
        self._record()
        # After the infrastructure listens, so no port of it can be handed out again.
        self.ports = choose_ports(gateway_port, self.say)
        auth = self._service("auth")
        self._wait_healthy([auth])
        self._wait_healthy([self._service(svc) for svc in SERVICES if svc != "auth"])
        # Assigned before it starts, so processes.json records it too.
        self.gateway = Child(
            "gateway",
            [sys.executable, "-m", "portico_gateway"],
            self._gateway_env(),
            self.home.log_for("gateway"),
        )
        self._wait_healthy([self._start(self.gateway)])

    def _service(self, svc: str) -> Child:
        child = Child(
            svc,
            [sys.executable, "-m", f"portico_{svc}"],
            self._service_env(svc),
            self.home.log_for(svc),
        )
        self.services[svc] = child
        return self._start(child)

    def _start(self, child: Child) -> Child:
        if self.signals.requested:
            raise Interrupted
        self.say(f"starting {child.name}")
        child.start()
        self._record()
        return child

    def _base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in (ADMIN_SECRET_ENV, KEK_ENV)}
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _service_env(self, svc: str) -> dict[str, str]:
        ports = self._ports()
        env = self._base_env()
        env["PORTICO_NATS_URL"] = self._infra().nats_url
        env["PORTICO_DATABASE_URL"] = self._infra().database_url
        env["PORTICO_GRPC_PORT"] = str(ports.grpc[svc])
        env["PORTICO_METRICS_PORT"] = str(ports.metrics[svc])
        if svc == "auth":
            env[ADMIN_SECRET_ENV] = self.secrets.admin_client_secret
            env[KEK_ENV] = self.secrets.key_encryption_key
        else:
            env["PORTICO_AUTH_TARGET"] = f"{HOST}:{ports.grpc['auth']}"
        return env

    def _gateway_env(self) -> dict[str, str]:
        ports = self._ports()
        env = self._base_env()
        env["PORTICO_GATEWAY_PORT"] = str(ports.gateway)
        for svc in SERVICES:
            env[f"PORTICO_GATEWAY_{svc.upper()}_TARGET"] = f"{HOST}:{ports.grpc[svc]}"
        return env

    def _probe(self, child: Child) -> Health:
        ports = self._ports()
        if child is self.gateway:
            return http_health(f"http://{HOST}:{ports.gateway}/healthz", timeout=0.5)
        return grpc_health(f"{HOST}:{ports.grpc[child.name]}", timeout=0.5)

    def _infra(self) -> Infra:
        if self.infra is None:
            raise RuntimeError("infrastructure is started in start()")
        return self.infra

    def _ports(self) -> Ports:
        if self.ports is None:
            raise RuntimeError("ports are chosen in start()")
        return self.ports

    def _wait_healthy(self, children: Iterable[Child]) -> None:
        started = time.monotonic()
        deadline = started + self.health_timeout
        pending = {child.name: child for child in children}
        last: dict[str, Health] = {}
        while pending:
            # Any process started so far, not only this stage's: all must stay up.
            failure = self._exited("while starting")
            if failure is not None:
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
                    f"Last lines of {child.log_path}:\n{self._tail(child)}"
                )
            time.sleep(0.2)

    def _tail(self, child: Child) -> str:
        return child.log_tail(redact=self.secrets.values())

    def _record(self) -> None:
        procs = [(name, proc.pid) for name, proc, _ in self._infra_processes()]
        procs += [(c.name, c.pid) for c in self._children() if c.pid]
        leftovers.record(self.home.processes, procs)

    def _infra_processes(self) -> list[tuple[str, subprocess.Popen[bytes], Path]]:
        return self.infra.processes() if self.infra is not None else []

    def _children(self) -> list[Child]:
        return [*self.services.values(), *([self.gateway] if self.gateway else [])]

    # ---- running ------------------------------------------------------------

    def endpoints(self) -> Endpoints:
        ports = self._ports()
        if self.gateway is None:
            raise RuntimeError("the suite has not started")
        return Endpoints(
            gateway=f"http://{HOST}:{ports.gateway}",
            nats=redact_url(self._infra().nats_url),
            database=redact_url(self._infra().database_url),
            services={
                svc: ServiceEndpoint(
                    grpc=f"{HOST}:{ports.grpc[svc]}",
                    metrics=f"http://{HOST}:{ports.metrics[svc]}/metrics",
                    pid=self.services[svc].pid,
                )
                for svc in SERVICES
            },
            admin_client_id=ADMIN_CLIENT_ID,
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            pid=os.getpid(),
            gateway_pid=self.gateway.pid,
        )

    def watch(self) -> str | None:
        """Blocks until a stop signal (None) or a process dies (the report)."""
        while not self.signals.requested:
            failure = self._exited("unexpectedly")
            if failure is not None:
                return failure
            time.sleep(0.25)
        self.say(f"received {self.signals.name}; stopping (again to stop at once)")
        return None

    def _exited(self, when: str) -> str | None:
        """The report on the first process that has exited, with its log's tail."""
        for child in self._children():
            code = child.returncode()
            if code is not None:
                return (
                    f"{child.name} {describe_exit(code)} {when}.\n"
                    f"Last lines of {child.log_path}:\n{self._tail(child)}"
                )
        for name, proc, log in self._infra_processes():
            code = proc.poll()
            if code is not None:
                tail = log_tail(log, redact=self.secrets.values())
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
        for stage in stages:
            live = [(c.name, c.proc) for c in stage if c.proc is not None and c.running()]
            if not live:
                continue
            self.say(f"stopping {', '.join(name for name, _ in live)}")
            killed += stop_all(live, force=lambda: self.signals.forced)
        for name, proc, _ in self._infra_processes():
            if proc.poll() is None:
                self.say(f"stopping {name}")
        if self.infra is not None:
            self.infra.stop()
        return killed


def choose_ports(gateway_port: int | None, say: Callable[[str], None]) -> Ports:
    """The default ports where free, else free ones; an explicit gateway port must be free."""
    taken: list[int] = []
    grpc: dict[str, int] = {}
    for svc in SERVICES:
        grpc[svc] = pick_port(GRPC_PORTS[svc], taken=taken)
        taken.append(grpc[svc])
        if grpc[svc] != GRPC_PORTS[svc]:
            say(f"port {GRPC_PORTS[svc]} is taken; {svc} uses {grpc[svc]}")
    metrics: dict[str, int] = {}
    for svc in SERVICES:
        metrics[svc] = pick_port(taken=taken)
        taken.append(metrics[svc])
    if gateway_port is None:
        gateway = pick_port(GATEWAY_PORT, taken=taken)
        if gateway != GATEWAY_PORT:
            say(f"port {GATEWAY_PORT} is taken; the gateway uses {gateway}")
    elif gateway_port == 0:
        gateway = pick_port(taken=taken)
    elif gateway_port in taken or not port_is_free(gateway_port):
        raise StartupError(
            f"gateway port {gateway_port} is in use; stop what listens there,"
            " or pass --gateway-port 0 for a free port"
        )
    else:
        gateway = gateway_port
    return Ports(grpc, metrics, gateway)


def runnable(module: str) -> bool:
    """Whether `python -m module` would find something to run."""
    import importlib.util

    try:
        return importlib.util.find_spec(f"{module}.__main__") is not None
    except ImportError:
        return False


def missing_modules() -> list[str]:
    return [m for m in [*(f"portico_{s}" for s in SERVICES), "portico_gateway"] if not runnable(m)]
