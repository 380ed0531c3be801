"""PostgreSQL adapters of the security ports.

Queries name the tenant even though row-level security already confines
them to it: the policy is the guarantee, the WHERE clause the intent.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from portico_common.clock import Clock
from portico_common.db import Connection
from portico_common.uow import PgUnitOfWork
from portico_security.domain.decisions import Verification
from portico_security.domain.signatures import PublisherKey
from portico_security.domain.verification import Check, Verdict, VerificationReport


class PgPublisherKeyRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, key: PublisherKey) -> bool:
        inserted = await self._conn.fetchval(
            """INSERT INTO publisher_keys
                   (tenant_id, key_id, publisher, algorithm, public_key_pem, created_at)
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (tenant_id, key_id) DO NOTHING RETURNING true""",
            key.tenant_id,
            key.key_id,
            key.publisher,
            key.algorithm.value,
            key.public_key_pem,
            key.created_at,
        )
        return bool(inserted)

    async def get(self, tenant_id: str, key_id: str) -> PublisherKey | None:
        row = await self._conn.fetchrow(
            """SELECT tenant_id, key_id, publisher, algorithm, public_key_pem, created_at
                 FROM publisher_keys WHERE tenant_id = $1 AND key_id = $2""",
            tenant_id,
            key_id,
        )
        if row is None:
            return None
        return PublisherKey(
            tenant_id=row["tenant_id"],
            publisher=row["publisher"],
            key_id=row["key_id"],
            algorithm=row["algorithm"],
            public_key_pem=row["public_key_pem"],
            created_at=row["created_at"],
        )


class PgVerificationRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, verification: Verification) -> None:
        await self._conn.execute(
            """INSERT INTO verifications (verification_id, tenant_id, plugin, version,
                   integrity, verdict, checks, key_id, created_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)""",
            uuid.UUID(verification.verification_id),
            verification.tenant_id,
            verification.plugin,
            verification.version,
            verification.integrity,
            verification.verdict.value,
            json.dumps([_check_to_json(c) for c in verification.report.checks]),
            verification.key_id,
            verification.created_at,
        )

    async def get(self, tenant_id: str, verification_id: str) -> Verification | None:
        try:
            wanted = uuid.UUID(verification_id)
        except ValueError:
            return None
        row = await self._conn.fetchrow(
            """SELECT verification_id, tenant_id, plugin, version, integrity, verdict,
                      checks, key_id, created_at
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
        )


def _check_to_json(check: Check) -> dict[str, Any]:
    return {"name": check.name, "passed": check.passed, "detail": check.detail}


def _check_from_json(data: Mapping[str, Any]) -> Check:
    return Check(name=str(data["name"]), passed=bool(data["passed"]), detail=str(data["detail"]))


class SecurityPgUnitOfWork(PgUnitOfWork):
    def __init__(self, conn: Connection, *, tenant_id: str, clock: Clock) -> None:
        super().__init__(conn, source="portico/security", tenant_id=tenant_id, clock=clock)
        self.publisher_keys = PgPublisherKeyRepository(conn)
        self.verifications = PgVerificationRepository(conn)
