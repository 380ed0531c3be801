"""`portico status`: the health of every process of the running suite."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from portico_cli import endpoints, tls
from portico_cli.errors import NotRunningError
from portico_cli.health import Health, grpc_health, http_health
from portico_cli.leftovers import alive
from portico_cli.paths import Home
from portico_cli.supervision import STATE_FILE, read_state
from portico_cli.table import format_table


def run(home_dir: Path) -> int:
    """Prints one row per process; 0 only if every one is healthy."""
    home = Home(home_dir)
    found = endpoints.read(home.endpoints)
    if found.pid and not alive(found.pid):
        raise NotRunningError(
            f"Portico is not running: {home.endpoints} is left from `portico up`"
            f" (pid {found.pid}) which has exited. Start it again with `portico up`."
        )
    # A suite with TLS admits only certificates of its CA: the CLI shows its own.
    client = tls.cli_grpc(tls.cli_ca(home)) if found.tls else None
    probes: dict[str, tuple[str, Callable[[], Health]]] = {
        name: (svc.grpc, partial(grpc_health, svc.grpc, tls=client))
        for name, svc in found.services.items()
    }
    probes["gateway"] = (found.gateway, partial(http_health, f"{found.gateway}/healthz"))
    with ThreadPoolExecutor(max_workers=len(probes)) as pool:
        futures = {name: pool.submit(probe) for name, (_, probe) in probes.items()}
        results: dict[str, Health] = {name: future.result() for name, future in futures.items()}
    supervised = read_state(home.run / STATE_FILE)
    rows = [["process", "endpoint", "health", "latency", "restarts", "uptime", "last exit"]]
    rows += [
        [
            name,
            target,
            results[name].status,
            f"{results[name].latency_ms:.0f} ms",
            *_supervision(supervised.get(name, {})),
        ]
        for name, (target, _) in probes.items()
    ]
    # The embedded servers have no health probe here; the supervisor still tells their story.
    rows += [
        [name, "", str(state.get("status", "")), "", *_supervision(state)]
        for name, state in supervised.items()
        if name not in probes
    ]
    print(f"Portico at {found.gateway} (started {found.started_at}, home {home.root})")
    print(format_table(rows))
    unhealthy = [name for name, health in results.items() if not health.ok]
    if unhealthy:
        print(f"unhealthy: {', '.join(unhealthy)}")
        return 1
    print(f"all {len(results)} healthy")
    return 0


def _supervision(state: dict[str, Any]) -> list[str]:
    """Restarts, uptime and last exit of one process, as the supervisor recorded them."""
    if not state:
        return ["", "", ""]
    uptime = ""
    started = state.get("started_at")
    if isinstance(started, str) and started:
        seconds = (datetime.now(UTC) - datetime.fromisoformat(started)).total_seconds()
        uptime = format_duration(max(0.0, seconds))
    elif state.get("status"):
        uptime = str(state["status"])
    return [str(state.get("restarts", 0)), uptime, str(state.get("last_exit") or "-")]


def format_duration(seconds: float) -> str:
    """12s, 3m04s, 2h05m."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
