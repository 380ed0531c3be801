"""The suite as the watchdog sees it, and the loop that runs the watchdog until a stop.

`WatchedSuite` answers the watchdog's questions about a started `Suite`
(which processes exited, which run, their logs' tails) and restarts one on
request: a service or the gateway on the port it had, so nobody's settings
change; an embedded PostgreSQL or NATS on the same data. `watch` ticks the
watchdog until a stop signal or a process that keeps dying.
"""

from __future__ import annotations

import time

from portico_cli.endpoints import write as write_endpoints
from portico_cli.ports import read_ready_file
from portico_cli.procs import log_tail
from portico_cli.restarts import RestartPolicy
from portico_cli.supervision import STATE_FILE, Watchdog
from portico_cli.supervisor import Suite
from portico_common.clock import SystemClock

SERVERS = frozenset({"postgres", "nats-server"})
TICK_SECONDS = 0.25


def watch(suite: Suite, policy: RestartPolicy | None = None) -> str | None:
    """Blocks until a stop signal (None) or a process that keeps dying (the report).

    A process that dies is restarted with backoff (`supervision.Watchdog`).
    """
    watchdog = Watchdog(
        WatchedSuite(suite),
        SystemClock(),
        suite.say,
        suite.home.run / STATE_FILE,
        policy or RestartPolicy(),
    )
    watchdog.begin()
    while not suite.signals.requested:
        failure = watchdog.tick()
        if failure is not None:
            return failure
        time.sleep(TICK_SECONDS)
    suite.say(f"received {suite.signals.name}; stopping (again to stop at once)")
    return None


class WatchedSuite:
    """A started suite behind the watchdog's `Supervised` protocol."""

    def __init__(self, suite: Suite) -> None:
        self.suite = suite

    def exited_processes(self) -> dict[str, int]:
        """Name -> exit code of every process of the suite that is not running."""
        suite = self.suite
        found = {c.name: code for c in suite.children() if (code := c.returncode()) is not None}
        infra = suite.infra
        servers = {
            "postgres": infra.postgres if infra is not None else None,
            "nats-server": infra.nats if infra is not None else None,
        }
        for name, server in servers.items():
            if server is None:
                continue
            # No process at all: its last start failed, which counts as a crash too.
            code = 1 if server.proc is None else server.proc.poll()
            if code is not None:
                found[name] = code
        return found

    def running_pids(self) -> dict[str, int]:
        pids = {name: proc.pid for name, proc, _ in self.suite.infra_processes()}
        pids |= {c.name: c.pid for c in self.suite.children() if c.running()}
        return pids

    def restart_process(self, name: str) -> None:
        """Starts `name` again: a service on the port it had, a server on the same data."""
        suite = self.suite
        if name in SERVERS:
            self._restart_server(name)
        elif name == "gateway":
            suite.ports.asked["gateway"] = suite.ports.gateway
            suite.start_gateway()
        else:
            suite.ports.asked[name] = suite.ports.grpc[name]
            suite.ports.metrics.pop(name, None)
            suite.start_service(name)
        suite.record()

    def _restart_server(self, name: str) -> None:
        infra = self.suite.require_infra()
        self.suite.say(f"starting {name} again on the same port and data")
        try:
            if name == "postgres" and infra.postgres is not None:
                infra.postgres.start()
            elif infra.nats is not None:
                infra.nats.start()
        except Exception as exc:  # noqa: BLE001 - a failed start is one more crash, retried
            self.suite.say(f"{name} did not start: {exc}")

    def tail_of(self, name: str) -> str:
        for child in self.suite.children():
            if child.name == name:
                return f"Last lines of {child.log_path}:\n{self.suite.tail(child)}"
        for found, _, log in self.suite.infra_processes():
            if found == name:
                return f"Last lines of {log}:\n{log_tail(log, redact=self.suite.redactions())}"
        return ""

    def restarted_ready(self, name: str) -> bool:
        """Whether a restarted process reports its ports; endpoints.json is rewritten then."""
        if name in SERVERS:
            return True
        suite = self.suite
        child = suite.gateway if name == "gateway" else suite.services.get(name)
        if child is None or not child.running():
            return False
        ready = read_ready_file(suite.home.ready_file_for(name), child.pid)
        if ready is None:
            return False
        if name != "gateway":
            suite.ports.metrics[name] = ready.get("metrics_port", 0)
        write_endpoints(suite.home.endpoints, suite.endpoints())
        return True
