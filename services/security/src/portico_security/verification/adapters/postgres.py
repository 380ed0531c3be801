"""PostgreSQL adapters of the verification ports, and the unit of work that carries them.

Queries name the tenant even though row-level security already confines
them to it: the policy is the guarantee, the WHERE clause the intent.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from portico_common.clock import Clock
from portico_common.db import Connection
from portico_common.uow import PgUnitOfWork
from portico_security.verification.adapters.messages import subject_of, to_message
from portico_security.verification.adapters.provenance_codec import report_from_json, report_to_json
from portico_security.verification.domain.decisions import Verification
from portico_security.verification.domain.events import VerificationEvent
from portico_security.verification.domain.signatures import PublisherKey
from portico_security.verification.domain.verification import Check, Verdict, VerificationReport

# The CloudEvent source of everything the security service announces.
SOURCE = "portico/security"


class PgPublisherKeyRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, key: PublisherKey) -> bool:
        inserted = await self._conn.fetchval(
            """INSERT INTO publisher_keys
                   (tenant_id, key_id, publisher, algorithm, public_key_pem, created_at,
                    expires_at, revoked_at, revocation_reason, replaced_by)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
               ON CONFLICT (tenant_id, key_id) DO NOTHING RETURNING true""",
            key.tenant_id,
            key.key_id,
            key.publisher,
            key.algorithm.value,
            key.public_key_pem,
            key.created_at,
            key.expires_at,
            key.revoked_at,
            key.revocation_reason,
            key.replaced_by,
        )
        return bool(inserted)

    async def get(self, tenant_id: str, key_id: str) -> PublisherKey | None:
        row = await self._conn.fetchrow(
            f"{_KEY_COLUMNS} WHERE tenant_id = $1 AND key_id = $2", tenant_id, key_id
        )
        return None if row is None else _key_from_row(row)

    async def get_for_update(self, tenant_id: str, key_id: str) -> PublisherKey | None:
        # Two concurrent rotations of one key must not both succeed.
        row = await self._conn.fetchrow(
            f"{_KEY_COLUMNS} WHERE tenant_id = $1 AND key_id = $2 FOR UPDATE", tenant_id, key_id
        )
        return None if row is None else _key_from_row(row)

    async def update_lifecycle(self, key: PublisherKey) -> None:
        await self._conn.execute(
            """UPDATE publisher_keys
                  SET expires_at = $3, revoked_at = $4, revocation_reason = $5, replaced_by = $6
                WHERE tenant_id = $1 AND key_id = $2""",
            key.tenant_id,
            key.key_id,
            key.expires_at,
            key.revoked_at,
            key.revocation_reason,
            key.replaced_by,
        )

    async def list(self, tenant_id: str, publisher: str = "") -> list[PublisherKey]:
        rows = await self._conn.fetch(
            f"""{_KEY_COLUMNS} WHERE tenant_id = $1 AND ($2 = '' OR publisher = $2)
                 ORDER BY publisher, created_at, key_id""",
            tenant_id,
            publisher,
        )
        return [_key_from_row(row) for row in rows]


_KEY_COLUMNS = """SELECT tenant_id, key_id, publisher, algorithm, public_key_pem, created_at,
                         expires_at, revoked_at, revocation_reason, replaced_by
                    FROM publisher_keys"""


def _key_from_row(row: asyncpg.Record) -> PublisherKey:
    return PublisherKey(
        tenant_id=row["tenant_id"],
        publisher=row["publisher"],
        key_id=row["key_id"],
        algorithm=row["algorithm"],
        public_key_pem=row["public_key_pem"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        revocation_reason=row["revocation_reason"],
        replaced_by=row["replaced_by"],
    )


class PgVerificationRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def pinned_integrity(self, tenant_id: str, plugin: str, version: str) -> str | None:
        return await _pinned_integrity(self._conn, tenant_id, plugin, version)

    async def add(self, verification: Verification) -> None:
        await self._conn.execute(
            """INSERT INTO verifications (verification_id, tenant_id, plugin, version,
                   integrity, verdict, checks, key_id, created_at, provenance)
               VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10::jsonb)""",
            uuid.UUID(verification.verification_id),
            verification.tenant_id,
            verification.plugin,
            verification.version,
            verification.integrity,
            verification.verdict.value,
            json.dumps([_check_to_json(c) for c in verification.report.checks]),
            verification.key_id,
            verification.created_at,
            None
            if verification.provenance is None
            else json.dumps(report_to_json(verification.provenance)),
        )

    async def get(self, tenant_id: str, verification_id: str) -> Verification | None:
        try:
            wanted = uuid.UUID(verification_id)
        except ValueError:
            return None
        row = await self._conn.fetchrow(
            """SELECT verification_id, tenant_id, plugin, version, integrity, verdict,
                      checks, key_id, created_at, provenance
                 FROM verifications WHERE tenant_id = $1 AND verification_id = $2""",
            tenant_id,
            wanted,
        )
        if row is None:
            return None
        report = VerificationReport(
            verdict=Verdict(row["verdict"]),
            checks=tuple(_check_from_json(c) for c in json.loads(row["checks"])),
        )
        return Verification(
            verification_id=str(row["verification_id"]),
            tenant_id=row["tenant_id"],
            plugin=row["plugin"],
            version=row["version"],
            integrity=row["integrity"],
            key_id=row["key_id"],
            report=report,
            created_at=row["created_at"],
            provenance=None
            if row["provenance"] is None
            else report_from_json(json.loads(row["provenance"])),
        )


async def _pinned_integrity(
    conn: Connection, tenant_id: str, plugin: str, version: str
) -> str | None:
    # verifications_by_plugin (tenant, plugin, version, created_at) serves this.
    found = await conn.fetchval(
        """SELECT integrity FROM verifications
            WHERE tenant_id = $1 AND plugin = $2 AND version = $3 AND verdict = 'VERIFIED'
            ORDER BY created_at, verification_id LIMIT 1""",
        tenant_id,
        plugin,
        version,
    )
    return None if found is None else str(found)


def _check_to_json(check: Check) -> dict[str, Any]:
    return {"name": check.name, "passed": check.passed, "detail": check.detail}


def _check_from_json(data: Mapping[str, Any]) -> Check:
    return Check(name=str(data["name"]), passed=bool(data["passed"]), detail=str(data["detail"]))


class VerificationPgUnitOfWork(PgUnitOfWork):
    def __init__(self, conn: Connection, *, tenant_id: str, clock: Clock) -> None:
        super().__init__(conn, source=SOURCE, tenant_id=tenant_id, clock=clock)
        self.publisher_keys = PgPublisherKeyRepository(conn)
        self.verifications = PgVerificationRepository(conn)

    async def publish(self, events: Sequence[VerificationEvent]) -> None:
        for event in events:
            await self.emit(to_message(event), subject=subject_of(event))
