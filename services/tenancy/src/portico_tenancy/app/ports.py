"""What the tenancy use cases need from the outside world."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from google.protobuf.message import Message

from portico_common.clock import Clock
from portico_tenancy.domain.tenant import Tenant


class TenantRepository(Protocol):
    async def add(self, tenant: Tenant) -> bool:
        """Stores a new tenant; False if the id is taken."""

    async def get(self, tenant_id: str) -> Tenant | None: ...


class TenancyUnitOfWork(Protocol):
    # Read-only members, so any repository implementing the port fits.
    @property
    def tenants(self) -> TenantRepository: ...
    @property
    def clock(self) -> Clock: ...

    async def emit(self, payload: Message, *, subject: str = "") -> None: ...


UnitOfWorkFactory = Callable[[str], AbstractAsyncContextManager[TenancyUnitOfWork]]
