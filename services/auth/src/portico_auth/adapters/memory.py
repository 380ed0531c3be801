"""In-memory adapters of the auth ports, for unit tests and the shared contract tests.

Transactions run one at a time (a lock), see a copy of the state, and write it
back only when they finish without an error, so a failed use case changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from portico_auth.app.ports import UnitOfWorkFactory
from portico_auth.domain.clients import Client
from portico_auth.domain.signing_keys import SigningKey
from portico_common.clock import Clock, SystemClock


class MemorySigningKeyRepository:
    def __init__(self, rows: dict[str, SigningKey]) -> None:
        self.rows = rows

    async def lock(self) -> None:
        """Nothing to do: memory transactions are serialized already."""

    async def list(self) -> list[SigningKey]:
        return list(self.rows.values())

    async def add(self, key: SigningKey) -> None:
        if key.kid in self.rows:
            raise KeyError(f"signing key {key.kid} exists")
        self.rows[key.kid] = key

    async def remove(self, kid: str) -> None:
        self.rows.pop(kid, None)


class MemoryClientRepository:
    def __init__(self, rows: dict[str, Client]) -> None:
        self.rows = rows

    async def get(self, client_id: str) -> Client | None:
        return self.rows.get(client_id)

    async def upsert(self, client: Client) -> None:
        self.rows[client.client_id] = client

    async def insert(self, client: Client) -> bool:
        if client.client_id in self.rows:
            return False
        self.rows[client.client_id] = client
        return True


class MemoryAuthUnitOfWork:
    def __init__(self, keys: dict[str, SigningKey], clients: dict[str, Client], clock: Clock):
        self.keys = MemorySigningKeyRepository(keys)
        self.clients = MemoryClientRepository(clients)
        self.clock = clock


class MemoryAuthStore:
    """Auth's state in memory; `uow` is the factory the use cases take."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self.keys: dict[str, SigningKey] = {}
        self.clients: dict[str, Client] = {}
        self.transactions = 0
        self._mutex = asyncio.Lock()

    @property
    def uow(self) -> UnitOfWorkFactory:
        return self._open

    @asynccontextmanager
    async def _open(self, _tenant_id: str) -> AsyncIterator[MemoryAuthUnitOfWork]:
        async with self._mutex:
            self.transactions += 1
            tx = MemoryAuthUnitOfWork(dict(self.keys), dict(self.clients), self.clock)
            yield tx
            self.keys, self.clients = tx.keys.rows, tx.clients.rows
