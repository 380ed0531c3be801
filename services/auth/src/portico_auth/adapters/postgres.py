"""PostgreSQL adapters of the auth ports (platform-level tables, see the migrations)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from portico_auth.adapters.key_encryption import KeyEncryptor
from portico_auth.domain.clients import Client, metadata_tenant
from portico_auth.domain.lockout import FailedAttempts
from portico_auth.domain.signing_keys import SigningKey
from portico_auth.errors import ClientMetadataUnsealableError, InvalidClientError
from portico_auth.sensitive import CLIENT_METADATA
from portico_common.clock import Clock
from portico_common.crypto.keyring import FieldCipher
from portico_common.db import Connection
from portico_common.tenants import ALL_TENANTS
from portico_common.uow import PgUnitOfWork

_KEY_LOCK = "portico:auth:signing-keys"
_ATTEMPTS_LOCK = "portico:auth:attempts:"
_CLIENT_COLUMNS = (
    "client_id, secret_hash, tenants, scopes, roles, disabled,"
    " previous_secret_hash, previous_secret_expires_at"
)


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


# Two statements, not one with "$2 IS NULL OR ...": a prepared statement's generic
# plan could not use clients_by_tenants for that, and would scan every tenant's clients.
LIST_TENANT_CLIENTS = f"""SELECT {_CLIENT_COLUMNS} FROM clients
    WHERE tenants = ARRAY[$1::text] AND client_id > $2
    ORDER BY client_id LIMIT $3"""  # noqa: S608 - fixed column list
LIST_ALL_CLIENTS = f"""SELECT {_CLIENT_COLUMNS} FROM clients
    WHERE client_id > $1 ORDER BY client_id LIMIT $2"""  # noqa: S608 - fixed column list


def _client(row: Any) -> Client:
    return Client(
        row["client_id"],
        row["secret_hash"],
        frozenset(row["tenants"]),
        frozenset(row["scopes"]),
        frozenset(row["roles"]),
        disabled=row["disabled"],
        previous_secret_hash=row["previous_secret_hash"] or "",
        previous_secret_expires_at=row["previous_secret_expires_at"],
    )


def _values(client: Client) -> tuple[Any, ...]:
    return (
        client.client_id,
        client.secret_hash,
        sorted(client.tenants),
        sorted(client.scopes),
        sorted(client.roles),
        client.disabled,
        client.previous_secret_hash or None,
        client.previous_secret_expires_at if client.previous_secret_hash else None,
    )


class PgClientRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, client_id: str) -> Client | None:
        row = await self._conn.fetchrow(
            f"SELECT {_CLIENT_COLUMNS} FROM clients WHERE client_id = $1",  # noqa: S608 - fixed column list
            client_id,
        )
        return None if row is None else _client(row)

    async def list(self, tenant_id: str | None, *, after: str, limit: int) -> list[Client]:
        if tenant_id is None:
            rows = await self._conn.fetch(LIST_ALL_CLIENTS, after, limit)
        else:
            rows = await self._conn.fetch(LIST_TENANT_CLIENTS, tenant_id, after, limit)
        return [_client(row) for row in rows]

    async def insert(self, client: Client) -> bool:
        """Adds a new client; False (and nothing written) when the id is taken."""
        inserted = await self._conn.fetchval(
            f"""INSERT INTO clients ({_CLIENT_COLUMNS})
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                ON CONFLICT (client_id) DO NOTHING
                RETURNING true""",  # noqa: S608 - fixed column list
            *_values(client),
        )
        return bool(inserted)

    async def upsert(self, client: Client) -> None:
        await self._conn.execute(
            f"""INSERT INTO clients ({_CLIENT_COLUMNS})
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                ON CONFLICT (client_id) DO UPDATE
                SET secret_hash = EXCLUDED.secret_hash, tenants = EXCLUDED.tenants,
                    scopes = EXCLUDED.scopes, roles = EXCLUDED.roles,
                    disabled = EXCLUDED.disabled,
                    previous_secret_hash = EXCLUDED.previous_secret_hash,
                    previous_secret_expires_at = EXCLUDED.previous_secret_expires_at,
                    updated_at = now()""",  # noqa: S608 - fixed column list
            *_values(client),
        )

    async def update(self, client: Client) -> None:
        await self._conn.execute(
            """UPDATE clients
               SET secret_hash = $2, tenants = $3, scopes = $4, roles = $5, disabled = $6,
                   previous_secret_hash = $7, previous_secret_expires_at = $8,
                   updated_at = now()
               WHERE client_id = $1""",
            *_values(client),
        )


class PgClientMetadataRepository:
    """Clients' metadata in `clients.metadata_sealed`, sealed with the client's tenant's key.

    Never stored in plaintext: without a cipher (no tenancy to get keys from)
    metadata is refused, and sealed metadata cannot be read.
    """

    def __init__(self, conn: Connection, cipher: FieldCipher | None) -> None:
        self._conn = conn
        self._cipher = cipher

    def _owner(self, client: Client) -> tuple[FieldCipher, str]:
        if self._cipher is None:
            raise ClientMetadataUnsealableError(client.client_id)
        tenant = metadata_tenant(client)
        if tenant is None:
            raise InvalidClientError(
                f"client {client.client_id!r} has no single tenant whose key could seal metadata"
            )
        return self._cipher, tenant

    async def put(self, client: Client, metadata: Mapping[str, str]) -> None:
        cipher, tenant = self._owner(client)
        sealed = await cipher.seal_text(
            CLIENT_METADATA.table,
            CLIENT_METADATA.column,
            tenant,
            client.client_id,
            json.dumps(dict(metadata), sort_keys=True),
        )
        await self._conn.execute(
            "UPDATE clients SET metadata_sealed = $2, updated_at = now() WHERE client_id = $1",
            client.client_id,
            sealed,
        )

    async def get_many(self, clients: Sequence[Client]) -> dict[str, dict[str, str]]:
        if not clients:
            return {}
        by_id = {c.client_id: c for c in clients}
        rows = await self._conn.fetch(
            """SELECT client_id, metadata_sealed FROM clients
               WHERE client_id = ANY($1::text[]) AND metadata_sealed IS NOT NULL""",
            list(by_id),
        )
        found: dict[str, dict[str, str]] = {}
        for row in rows:
            client = by_id[row["client_id"]]
            cipher, tenant = self._owner(client)
            text = await cipher.open_text(
                CLIENT_METADATA.table,
                CLIENT_METADATA.column,
                tenant,
                client.client_id,
                bytes(row["metadata_sealed"]),
            )
            found[client.client_id] = {str(k): str(v) for k, v in json.loads(text).items()}
        return found


class PgLockoutRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def lock(self, client_id: str) -> None:
        await self._conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext($1))", _ATTEMPTS_LOCK + client_id
        )

    async def get(self, client_id: str) -> FailedAttempts | None:
        row = await self._conn.fetchrow(
            """SELECT client_id, failures, window_started_at, locked_until
               FROM client_lockouts WHERE client_id = $1""",
            client_id,
        )
        return None if row is None else _attempts(row)

    async def get_many(self, client_ids: Sequence[str]) -> dict[str, FailedAttempts]:
        rows = await self._conn.fetch(
            """SELECT client_id, failures, window_started_at, locked_until
               FROM client_lockouts WHERE client_id = ANY($1::text[])""",
            list(client_ids),
        )
        return {row["client_id"]: _attempts(row) for row in rows}

    async def save(self, attempts: FailedAttempts) -> None:
        await self._conn.execute(
            """INSERT INTO client_lockouts (client_id, failures, window_started_at, locked_until)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (client_id) DO UPDATE
               SET failures = EXCLUDED.failures,
                   window_started_at = EXCLUDED.window_started_at,
                   locked_until = EXCLUDED.locked_until""",
            attempts.client_id,
            attempts.failures,
            attempts.window_started_at,
            attempts.locked_until,
        )

    async def clear(self, client_id: str) -> None:
        await self._conn.execute("DELETE FROM client_lockouts WHERE client_id = $1", client_id)

    async def remove_expired(self, now: datetime, window_started_before: datetime) -> int:
        status = await self._conn.execute(
            """DELETE FROM client_lockouts
               WHERE (locked_until IS NULL OR locked_until <= $1)
                 AND window_started_at <= $2""",
            now,
            window_started_before,
        )
        return int(status.rsplit(" ", 1)[-1])


def _attempts(row: Any) -> FailedAttempts:
    return FailedAttempts(
        row["client_id"], row["failures"], row["window_started_at"], row["locked_until"]
    )


class AuthPgUnitOfWork(PgUnitOfWork):
    """One platform-level transaction with auth's repositories."""

    def __init__(
        self,
        conn: Connection,
        *,
        encryptor: KeyEncryptor,
        clock: Clock,
        cipher: FieldCipher | None = None,
    ) -> None:
        super().__init__(conn, source="portico/auth", tenant_id=ALL_TENANTS, clock=clock)
        self.keys = PgSigningKeyRepository(conn, encryptor)
        self.clients = PgClientRepository(conn)
        self.client_metadata = PgClientMetadataRepository(conn, cipher)
        self.lockouts = PgLockoutRepository(conn)
