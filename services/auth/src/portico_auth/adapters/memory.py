"""In-memory adapters of the auth ports, for unit tests and the shared contract suite.

Built on the kernel's in-memory unit of work: transactions run one at a time
on a private copy of the state, written back only when they finish without an
error, so a failed use case changes nothing. auth's rows are platform-level,
as in PostgreSQL: only a platform (ALL_TENANTS) transaction sees or writes one.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from portico_auth.domain.clients import Client
from portico_auth.domain.lockout import FailedAttempts
from portico_auth.domain.signing_keys import SigningKey
from portico_common.clock import Clock, SystemClock
from portico_common.memory_uow import MemoryStore, MemoryUnitOfWork, TenantScope
from portico_common.tenants import ALL_TENANTS


@dataclass
class AuthState:
    """auth's tables, as plain containers of immutable domain objects."""

    keys: dict[str, SigningKey] = field(default_factory=dict)
    clients: dict[str, Client] = field(default_factory=dict)
    lockouts: dict[str, FailedAttempts] = field(default_factory=dict)
    # Client id -> its metadata (each dict replaced whole, never changed in place).
    client_metadata: dict[str, dict[str, str]] = field(default_factory=dict)

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

    async def update(self, client: Client) -> None:
        if self._scope.sees(ALL_TENANTS) and client.client_id in self._state.clients:
            self._state.clients[client.client_id] = client

    async def list(self, tenant_id: str | None, *, after: str, limit: int) -> list[Client]:
        if not self._scope.sees(ALL_TENANTS):
            return []
        found = sorted(
            (
                c
                for c in self._state.clients.values()
                if c.client_id > after and (tenant_id is None or c.tenants == {tenant_id})
            ),
            key=lambda c: c.client_id,
        )
        return found[:limit]


class MemoryClientMetadataRepository:
    """Metadata in memory: nothing to seal here, the PostgreSQL adapter's twin otherwise."""

    def __init__(self, state: AuthState, scope: TenantScope) -> None:
        self._state = state
        self._scope = scope

    async def put(self, client: Client, metadata: Mapping[str, str]) -> None:
        self._scope.check_write(ALL_TENANTS)
        if client.client_id in self._state.clients:
            self._state.client_metadata[client.client_id] = dict(metadata)

    async def get_many(self, clients: Sequence[Client]) -> dict[str, dict[str, str]]:
        if not self._scope.sees(ALL_TENANTS):
            return {}
        return {
            c.client_id: dict(self._state.client_metadata[c.client_id])
            for c in clients
            if self._state.client_metadata.get(c.client_id)
        }


class MemoryLockoutRepository:
    def __init__(self, state: AuthState, scope: TenantScope) -> None:
        self._state = state
        self._scope = scope

    async def lock(self, client_id: str) -> None:
        """Nothing to do: memory transactions are serialized already."""

    async def get(self, client_id: str) -> FailedAttempts | None:
        return self._state.lockouts.get(client_id) if self._scope.sees(ALL_TENANTS) else None

    async def get_many(self, client_ids: Sequence[str]) -> dict[str, FailedAttempts]:
        if not self._scope.sees(ALL_TENANTS):
            return {}
        return {i: self._state.lockouts[i] for i in client_ids if i in self._state.lockouts}

    async def save(self, attempts: FailedAttempts) -> None:
        self._scope.check_write(ALL_TENANTS)
        self._state.lockouts[attempts.client_id] = attempts

    async def clear(self, client_id: str) -> None:
        if self._scope.sees(ALL_TENANTS):
            self._state.lockouts.pop(client_id, None)

    async def remove_expired(self, now: datetime, window_started_before: datetime) -> int:
        if not self._scope.sees(ALL_TENANTS):
            return 0
        gone = [
            a.client_id
            for a in self._state.lockouts.values()
            if (a.locked_until is None or a.locked_until <= now)
            and a.window_started_at <= window_started_before
        ]
        for client_id in gone:
            del self._state.lockouts[client_id]
        return len(gone)


class AuthMemoryUnitOfWork(MemoryUnitOfWork[AuthState]):
    """One in-memory transaction with auth's repositories."""

    def __init__(self, state: AuthState, tenant_id: str, clock: Clock) -> None:
        super().__init__(state, tenant_id, clock)
        self.keys = MemorySigningKeyRepository(state, self)
        self.clients = MemoryClientRepository(state, self)
        self.client_metadata = MemoryClientMetadataRepository(state, self)
        self.lockouts = MemoryLockoutRepository(state, self)


AuthMemoryStore = MemoryStore[AuthState, AuthMemoryUnitOfWork]


def memory_store(clock: Clock | None = None) -> AuthMemoryStore:
    """An empty store; `store.open` is the unit-of-work factory the use cases take.

    Real time by default: tokens are verified against the real clock.
    """
    at = clock or SystemClock()
    return MemoryStore(AuthState(), lambda state, tenant: AuthMemoryUnitOfWork(state, tenant, at))
