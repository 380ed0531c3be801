"""What the auth use cases need from the outside world."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from portico_auth.domain.clients import Client
from portico_auth.domain.lockout import FailedAttempts
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

    async def update(self, client: Client) -> None:
        """Writes back a client read in this transaction."""

    async def list(self, tenant_id: str | None, *, after: str, limit: int) -> list[Client]:
        """Clients by id after `after`: all, or those registered for exactly `tenant_id`."""


class ClientMetadataRepository(Protocol):
    """Clients' metadata, kept apart from the client itself: issuing a token never reads it."""

    async def put(self, client: Client, metadata: Mapping[str, str]) -> None:
        """Stores a registered client's metadata (sealed with its tenant's data key)."""

    async def get_many(self, clients: Sequence[Client]) -> dict[str, dict[str, str]]:
        """The metadata of those clients that have any, by client id."""


class LockoutRepository(Protocol):
    async def lock(self, client_id: str) -> None:
        """Serializes the attempts on one client id until the transaction ends."""

    async def get(self, client_id: str) -> FailedAttempts | None: ...

    async def get_many(self, client_ids: Sequence[str]) -> dict[str, FailedAttempts]: ...

    async def save(self, attempts: FailedAttempts) -> None: ...

    async def clear(self, client_id: str) -> None: ...

    async def remove_expired(self, now: datetime, window_started_before: datetime) -> int:
        """Deletes records neither locked at `now` nor in a window started after the bound."""


class AuthUnitOfWork(Protocol):
    # Read-only members, so any repository implementing the port fits.
    @property
    def keys(self) -> SigningKeyRepository: ...
    @property
    def clients(self) -> ClientRepository: ...
    @property
    def client_metadata(self) -> ClientMetadataRepository: ...
    @property
    def lockouts(self) -> LockoutRepository: ...
    @property
    def clock(self) -> Clock: ...


# Called with db.ALL_TENANTS: auth's tables are platform-level, not tenant-scoped.
UnitOfWorkFactory = Callable[[str], AbstractAsyncContextManager[AuthUnitOfWork]]
