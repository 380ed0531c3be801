"""What the auth use cases need from the outside world."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from portico_auth.domain.clients import Client
from portico_auth.domain.signing_keys import SigningKey
from portico_common.clock import Clock


class SigningKeyRepository(Protocol):
    async def lock(self) -> None:
        """Serializes key creation across replicas until the transaction ends."""

    async def list(self) -> list[SigningKey]: ...

    async def add(self, key: SigningKey) -> None: ...

    async def remove(self, kid: str) -> None: ...


class ClientRepository(Protocol):
    async def get(self, client_id: str) -> Client | None: ...

    async def upsert(self, client: Client) -> None: ...

    async def insert(self, client: Client) -> bool:
        """Adds a new client; False (nothing written) when the id is taken."""


class AuthUnitOfWork(Protocol):
    # Read-only members, so any repository implementing the port fits.
    @property
    def keys(self) -> SigningKeyRepository: ...
    @property
    def clients(self) -> ClientRepository: ...
    @property
    def clock(self) -> Clock: ...


# Called with db.ALL_TENANTS: auth's tables are platform-level, not tenant-scoped.
UnitOfWorkFactory = Callable[[str], AbstractAsyncContextManager[AuthUnitOfWork]]
