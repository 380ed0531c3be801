"""Per-tenant concurrency caps on heavy RPCs (verification, solving): noisy neighbours.

A service names its heavy methods and how many calls of each one tenant may
have running at once. A call beyond the cap is refused at once with
RESOURCE_EXHAUSTED (and a RetryInfo of one second, which the gateway turns
into 429 with Retry-After) instead of queueing behind the tenant's own work,
so one tenant flooding a heavy RPC cannot take every worker from the others.
Running calls and refusals are counted per tenant and method.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from portico_common.errors import ResourceExhaustedError
from portico_common.metrics import TENANT_CALLS_REFUSED, TENANT_CALLS_RUNNING


class TenantBusyError(ResourceExhaustedError):
    """The tenant already runs as many calls of this heavy method as it may."""

    def __init__(self, tenant_id: str, method: str, cap: int) -> None:
        short = method.rsplit("/", 1)[-1]
        super().__init__(
            f"tenant {tenant_id} already has {cap} {short} calls running, its limit;"
            " retry when one has finished"
        )
        self.retry_after_seconds = 1


class TenantConcurrency:
    """Running calls by (tenant, heavy method), each held below the method's cap."""

    def __init__(self, service: str, caps: Mapping[str, int]) -> None:
        bad = {method: cap for method, cap in caps.items() if cap < 1}
        if bad:
            raise ValueError(f"a concurrency cap is at least 1: {bad}")
        self._service = service
        self._caps = dict(caps)
        self._running: dict[tuple[str, str], int] = {}

    def caps(self, method: str) -> bool:
        return method in self._caps

    def running(self, tenant_id: str, method: str) -> int:
        return self._running.get((tenant_id, method), 0)

    @asynccontextmanager
    async def hold(self, tenant_id: str, method: str) -> AsyncIterator[None]:
        """One running call of the tenant's; TenantBusyError when it has its cap already."""
        cap = self._caps.get(method)
        if cap is None:
            yield
            return
        key = (tenant_id, method)
        short = method.rsplit("/", 1)[-1]
        if self._running.get(key, 0) >= cap:
            TENANT_CALLS_REFUSED.labels(self._service, tenant_id, short).inc()
            raise TenantBusyError(tenant_id, method, cap)
        self._running[key] = self._running.get(key, 0) + 1
        TENANT_CALLS_RUNNING.labels(self._service, tenant_id, short).inc()
        try:
            yield
        finally:
            left = self._running[key] - 1
            if left:
                self._running[key] = left
            else:
                del self._running[key]
            TENANT_CALLS_RUNNING.labels(self._service, tenant_id, short).dec()
