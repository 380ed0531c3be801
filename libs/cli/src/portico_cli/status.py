"""`portico status`: the health of every process of the running suite."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from portico_cli import endpoints, tls
from portico_cli.errors import NotRunningError
from portico_cli.health import Health, grpc_health, http_health
from portico_cli.leftovers import alive
from portico_cli.paths import Home
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
    rows = [["process", "endpoint", "health", "latency"]]
    rows += [
        [name, target, results[name].status, f"{results[name].latency_ms:.0f} ms"]
        for name, (target, _) in probes.items()
    ]
    print(f"Portico at {found.gateway} (started {found.started_at}, home {home.root})")
    print(format_table(rows))
    unhealthy = [name for name, health in results.items() if not health.ok]
    if unhealthy:
        print(f"unhealthy: {', '.join(unhealthy)}")
        return 1
    print(f"all {len(results)} healthy")
    return 0
