"""In-memory adapters of the auth ports, for unit tests and the shared contract suite.

Built on the kernel's in-memory unit of work: transactions run one at a time
on a private copy of the state, written back only when they finish without an
error, so a failed use case changes nothing. auth's rows are platform-level,
as in PostgreSQL: only a platform (ALL_TENANTS) transaction sees or writes one.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from typing import Any

from portico_auth.domain.clients import Client
from portico_auth.domain.signing_keys import SigningKey
from portico_common.clock import Clock, SystemClock
from portico_common.memory_uow import MemoryStore, MemoryUnitOfWork, TenantScope
from portico_common.tenants import ALL_TENANTS


@dataclass
class AuthState:
    """auth's tables, as plain containers of immutable domain objects."""

    keys: dict[str, SigningKey] = field(default_factory=dict)
    clients: dict[str, Client] = field(default_factory=dict)

    def __deepcopy__(self, memo: dict[int, Any]) -> AuthState:
        # Rows are frozen (a key holds a private key object, which cannot be
        # deep-copied), so a private copy of each table is a private copy of all.
        return AuthState(**{f.name: copy.copy(getattr(self, f.name)) for f in fields(self)})


class MemorySigningKeyRepository:
    def __init__(self, state: AuthState, scope: TenantScope) -> None:
        self._state = state
        self._scope = scope

    async def lock(self) -> None:
        """Nothing to do: memory transactions are serialized already."""

    async def list(self) -> list[SigningKey]:
        return list(self._state.keys.values()) if self._scope.sees(ALL_TENANTS) else []

    async def add(self, key: SigningKey) -> None:
        self._scope.check_write(ALL_TENANTS)
        if key.kid in self._state.keys:
            raise KeyError(f"signing key {key.kid} exists")
        self._state.keys[key.kid] = key

    async def remove(self, kid: str) -> None:
        if self._scope.sees(ALL_TENANTS):
            self._state.keys.pop(kid, None)


class MemoryClientRepository:
    def __init__(self, state: AuthState, scope: TenantScope) -> None:
        self._state = state
        self._scope = scope

    async def get(self, client_id: str) -> Client | None:
        return self._state.clients.get(client_id) if self._scope.sees(ALL_TENANTS) else None

    async def upsert(self, client: Client) -> None:
        self._scope.check_write(ALL_TENANTS)
        self._state.clients[client.client_id] = client

    async def insert(self, client: Client) -> bool:
        self._scope.check_write(ALL_TENANTS)
        if client.client_id in self._state.clients:
            return False
        self._state.clients[client.client_id] = client
        return True


class AuthMemoryUnitOfWork(MemoryUnitOfWork[AuthState]):
    """One in-memory transaction with auth's repositories."""

    def __init__(self, state: AuthState, tenant_id: str, clock: Clock) -> None:
        super().__init__(state, tenant_id, clock)
        self.keys = MemorySigningKeyRepository(state, self)
        self.clients = MemoryClientRepository(state, self)


AuthMemoryStore = MemoryStore[AuthState, AuthMemoryUnitOfWork]


def memory_store(clock: Clock | None = None) -> AuthMemoryStore:
    """An empty store; `store.open` is the unit-of-work factory the use cases take.

    Real time by default: tokens are verified against the real clock.
    """
    at = clock or SystemClock()
    return MemoryStore(AuthState(), lambda state, tenant: AuthMemoryUnitOfWork(state, tenant, at))
