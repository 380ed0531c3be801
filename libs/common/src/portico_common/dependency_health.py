"""The health a service reports while its dependencies come and go.

Health names (grpc.health.v1):

- `portico.liveness`: SERVING while the process runs; a liveness probe uses it,
  so an outage of PostgreSQL never gets healthy processes restarted.
- `""` and each service name: SERVING only while PostgreSQL answers (every RPC
  needs it); a readiness probe uses them, so no request is sent to a replica
  that could only answer UNAVAILABLE.
- `portico.postgresql`, `portico.nats`: each dependency on its own. NATS is
  not part of readiness: the outbox keeps writes whole while it is away and the
  relay publishes them once it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import asyncpg

from portico_common.outages import NATS, POSTGRESQL

log = logging.getLogger(__name__)

LIVENESS = "portico.liveness"
DEPENDENCY_NAMES = {POSTGRESQL: "portico.postgresql", NATS: "portico.nats"}

# Sets one health name to SERVING (True) or NOT_SERVING (False).
SetHealth = Callable[[str, bool], Awaitable[None]]


@dataclass(frozen=True)
class ProbeSettings:
    interval_seconds: float = 2.0
    timeout_seconds: float = 2.0


class DependencyHealth:
    """Probes PostgreSQL and NATS every interval and reports each change of either."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        nats_connected: Callable[[], bool],
        ready_names: Sequence[str],
        set_health: SetHealth,
        settings: ProbeSettings | None = None,
    ) -> None:
        self._pool = pool
        self._nats_connected = nats_connected
        self._ready_names = list(ready_names)
        self._set = set_health
        self._settings = settings or ProbeSettings()
        # Unknown at first, so the first probe reports both.
        self._state: dict[str, bool | None] = {POSTGRESQL: None, NATS: None}

    async def database_reachable(self) -> bool:
        timeout = self._settings.timeout_seconds
        try:
            async with asyncio.timeout(timeout * 2):
                async with self._pool.acquire(timeout=timeout) as conn:
                    await conn.fetchval("SELECT 1", timeout=timeout)
        except Exception:  # noqa: BLE001 - any failure to answer is "unreachable"
            return False
        return True

    async def probe(self) -> dict[str, bool]:
        """Probes both once and reports what changed; returns the new state."""
        found = {POSTGRESQL: await self.database_reachable(), NATS: self._nats_connected()}
        for dependency, up in found.items():
            if self._state[dependency] == up:
                continue
            self._state[dependency] = up
            await self._set(DEPENDENCY_NAMES[dependency], up)
            if dependency == POSTGRESQL:
                for name in self._ready_names:
                    await self._set(name, up)
            if up:
                log.info("dependency reachable again", extra={"dependency": dependency})
            else:
                log.warning("dependency unreachable", extra={"dependency": dependency})
        return found

    async def start(self, stop: asyncio.Event) -> asyncio.Task[None]:
        """Reports the state now, then keeps probing in a task until `stop` is set."""
        await self.probe()
        return asyncio.create_task(self.run(stop), name="dependency-health")

    async def run(self, stop: asyncio.Event) -> None:
        """Probes until `stop` is set."""
        while not stop.is_set():
            await self.probe()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._settings.interval_seconds)
