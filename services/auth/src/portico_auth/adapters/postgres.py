"""PostgreSQL adapters of the auth ports (platform-level tables, see the migration)."""

from __future__ import annotations

from typing import Any

from portico_auth.adapters.key_encryption import KeyEncryptor
from portico_auth.domain.clients import Client
from portico_auth.domain.signing_keys import SigningKey
from portico_common.clock import Clock
from portico_common.db import Connection
from portico_common.tenants import ALL_TENANTS
from portico_common.uow import PgUnitOfWork

_KEY_LOCK = "portico:auth:signing-keys"


class PgSigningKeyRepository:
    """Signing keys, private halves sealed with the KEK before they reach the table."""

    def __init__(self, conn: Connection, encryptor: KeyEncryptor) -> None:
        self._conn = conn
        self._encryptor = encryptor

    async def lock(self) -> None:
        await self._conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", _KEY_LOCK)

    async def list(self) -> list[SigningKey]:
        rows = await self._conn.fetch(
            "SELECT kid, sealed_private_key, created_at, not_after FROM signing_keys"
        )
        return [self._to_key(row) for row in rows]

    async def add(self, key: SigningKey) -> None:
        await self._conn.execute(
            """INSERT INTO signing_keys (kid, sealed_private_key, created_at, not_after)
               VALUES ($1, $2, $3, $4)""",
            key.kid,
            self._encryptor.seal(key.kid, key.private_bytes()),
            key.created_at,
            key.not_after,
        )

    async def remove(self, kid: str) -> None:
        await self._conn.execute("DELETE FROM signing_keys WHERE kid = $1", kid)

    def _to_key(self, row: Any) -> SigningKey:
        raw = self._encryptor.open(row["kid"], row["sealed_private_key"])
        return SigningKey.from_private_bytes(
            raw, created_at=row["created_at"], not_after=row["not_after"], kid=row["kid"]
        )


class PgClientRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, client_id: str) -> Client | None:
        row = await self._conn.fetchrow(
            "SELECT client_id, secret_hash, tenants, scopes, roles FROM clients"
            " WHERE client_id = $1",
            client_id,
        )
        if row is None:
            return None
        return Client(
            row["client_id"],
            row["secret_hash"],
            frozenset(row["tenants"]),
            frozenset(row["scopes"]),
            frozenset(row["roles"]),
        )

    async def insert(self, client: Client) -> bool:
        """Adds a new client; False (and nothing written) when the id is taken."""
        inserted = await self._conn.fetchval(
            """INSERT INTO clients (client_id, secret_hash, tenants, scopes, roles)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (client_id) DO NOTHING
               RETURNING true""",
            client.client_id,
            client.secret_hash,
            sorted(client.tenants),
            sorted(client.scopes),
            sorted(client.roles),
        )
        return bool(inserted)

    async def upsert(self, client: Client) -> None:
        await self._conn.execute(
            """INSERT INTO clients (client_id, secret_hash, tenants, scopes, roles)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (client_id) DO UPDATE
               SET secret_hash = EXCLUDED.secret_hash, tenants = EXCLUDED.tenants,
                   scopes = EXCLUDED.scopes, roles = EXCLUDED.roles, updated_at = now()""",
            client.client_id,
            client.secret_hash,
            sorted(client.tenants),
            sorted(client.scopes),
            sorted(client.roles),
        )


class AuthPgUnitOfWork(PgUnitOfWork):
    """One platform-level transaction with auth's repositories."""

    def __init__(self, conn: Connection, *, encryptor: KeyEncryptor, clock: Clock) -> None:
        super().__init__(conn, source="portico/auth", tenant_id=ALL_TENANTS, clock=clock)
        self.keys = PgSigningKeyRepository(conn, encryptor)
        self.clients = PgClientRepository(conn)
