"""PostgreSQL adapters of the install ports, and the unit of work that carries them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from portico_common.clock import Clock
from portico_common.crypto.keyring import FieldCipher
from portico_common.db import Connection
from portico_common.uow import PgUnitOfWork
from portico_security.install.adapters.codec import request_from_json, request_to_json
from portico_security.install.adapters.messages import subject_of, to_message
from portico_security.install.domain.audit import AuditEntry, AuditRecord, append
from portico_security.install.domain.events import InstallEvent
from portico_security.install.domain.policy import InstallPolicy, policy_from_json, policy_to_json
from portico_security.install.domain.requests import InstallRequest, InstallStatus
from portico_security.install.errors import (
    SealedAuditReasonUnreadableError,
    SealedBodyUnreadableError,
)
from portico_security.sensitive import AUDIT_REASON, INSTALL_REQUEST_BODY
from portico_security.verification.adapters.postgres import SOURCE


class PgInstallPolicyRepository:
    def __init__(self, conn: Connection, clock: Clock) -> None:
        self._conn = conn
        self._clock = clock

    async def get(self, tenant_id: str) -> InstallPolicy | None:
        raw = await self._conn.fetchval(
            "SELECT policy FROM install_policies WHERE tenant_id = $1", tenant_id
        )
        return None if raw is None else policy_from_json(tenant_id, json.loads(raw))

    async def put(self, policy: InstallPolicy) -> None:
        await self._conn.execute(
            """INSERT INTO install_policies (tenant_id, policy, updated_at)
               VALUES ($1, $2::jsonb, $3)
               ON CONFLICT (tenant_id) DO UPDATE
                   SET policy = EXCLUDED.policy, updated_at = EXCLUDED.updated_at""",
            policy.tenant_id,
            json.dumps(policy_to_json(policy)),
            self._clock.now(),
        )


class PgInstallRequestRepository:
    """Install requests; with a cipher, each body is sealed with the tenant's data key.

    Without one (no tenancy to get keys from) bodies are stored as plaintext
    JSON, as before per-tenant keys; a row's body is sealed on its next write
    once a cipher is given, and both kinds of row are read.
    """

    def __init__(self, conn: Connection, clock: Clock, cipher: FieldCipher | None = None) -> None:
        self._conn = conn
        self._clock = clock
        self._cipher = cipher

    async def _body(self, request: InstallRequest) -> tuple[str, bytes | None]:
        body = json.dumps(request_to_json(request))
        if self._cipher is None:
            return body, None
        sealed = await self._cipher.seal_text(
            INSTALL_REQUEST_BODY.table,
            INSTALL_REQUEST_BODY.column,
            request.tenant_id,
            request.request_id,
            body,
        )
        return "{}", sealed

    async def add(self, request: InstallRequest) -> None:
        body, sealed = await self._body(request)
        await self._conn.execute(
            """INSERT INTO install_requests (request_id, tenant_id, plugin, version, status,
                   deadline, body, body_sealed, created_at, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $9)""",
            uuid.UUID(request.request_id),
            request.tenant_id,
            request.plugin,
            request.version,
            request.status.value,
            _deadline(request),
            body,
            sealed,
            request.created_at,
        )

    async def save(self, request: InstallRequest) -> None:
        body, sealed = await self._body(request)
        await self._conn.execute(
            """UPDATE install_requests SET status = $3, deadline = $4, body = $5::jsonb,
                   body_sealed = $6, updated_at = $7
               WHERE tenant_id = $1 AND request_id = $2""",
            request.tenant_id,
            uuid.UUID(request.request_id),
            request.status.value,
            _deadline(request),
            body,
            sealed,
            self._clock.now(),
        )

    async def get(
        self, tenant_id: str, request_id: str, *, lock: bool = False
    ) -> InstallRequest | None:
        try:
            wanted = uuid.UUID(request_id)
        except ValueError:
            return None
        row = await self._conn.fetchrow(_GET_FOR_UPDATE if lock else _GET, tenant_id, wanted)
        if row is None:
            return None
        return await self._request(row)

    async def of_plugin(
        self, tenant_id: str, plugin: str, statuses: Sequence[InstallStatus], *, lock: bool = False
    ) -> list[InstallRequest]:
        rows = await self._conn.fetch(
            _OF_PLUGIN + (" FOR UPDATE" if lock else ""),
            tenant_id,
            plugin,
            [s.value for s in statuses],
        )
        return [await self._request(row) for row in rows]

    async def _request(self, row: Any) -> InstallRequest:
        body = row["body"]
        if row["body_sealed"] is not None:
            if self._cipher is None:
                raise SealedBodyUnreadableError(str(row["request_id"]))
            body = await self._cipher.open_text(
                INSTALL_REQUEST_BODY.table,
                INSTALL_REQUEST_BODY.column,
                row["tenant_id"],
                str(row["request_id"]),
                bytes(row["body_sealed"]),
            )
        return request_from_json(
            request_id=str(row["request_id"]),
            tenant_id=row["tenant_id"],
            plugin=row["plugin"],
            version=row["version"],
            status=row["status"],
            body=json.loads(body),
        )

    async def due(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        rows = await self._conn.fetch(
            """SELECT tenant_id, request_id FROM install_requests
                WHERE status = 'PENDING_APPROVAL' AND deadline <= $1
                ORDER BY deadline LIMIT $2 FOR UPDATE SKIP LOCKED""",
            now,
            limit,
        )
        return [(r["tenant_id"], str(r["request_id"])) for r in rows]


_AUDIT_COLUMNS = """SELECT tenant_id, sequence, at, actor, action, subject, reason, reason_sealed,
                      evidence_digest, prev_hash, hash"""


class PgAuditLog:
    """The tenant's audit chain; with a cipher, each reason is sealed with the tenant's key.

    The hash chain covers the plaintext reason, so a chain is checked on what
    was recorded, and a shredded tenant's chain can no longer be read at all.
    Records written without a cipher keep their plaintext reason.
    """

    def __init__(self, conn: Connection, cipher: FieldCipher | None = None) -> None:
        self._conn = conn
        self._cipher = cipher

    async def append(self, entry: AuditEntry) -> AuditRecord:
        # One writer per tenant chain at a time, so two transactions never both
        # extend the same last record.
        await self._conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            f"security.audit:{entry.tenant_id}",
        )
        last = await self._conn.fetchrow(
            f"""{_AUDIT_COLUMNS} FROM audit_records
                WHERE tenant_id = $1 ORDER BY sequence DESC LIMIT 1""",
            entry.tenant_id,
        )
        record = append(await self._record(last) if last is not None else None, entry)
        reason, sealed = entry.reason, None
        if self._cipher is not None:
            sealed = await self._cipher.seal_text(
                AUDIT_REASON.table,
                AUDIT_REASON.column,
                entry.tenant_id,
                str(record.sequence),
                entry.reason,
            )
            reason = ""
        await self._conn.execute(
            """INSERT INTO audit_records (tenant_id, sequence, at, actor, action, subject,
                   reason, reason_sealed, evidence_digest, prev_hash, hash)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)""",
            entry.tenant_id,
            record.sequence,
            entry.at,
            entry.actor,
            entry.action,
            entry.subject,
            reason,
            sealed,
            entry.evidence_digest,
            record.prev_hash,
            record.hash,
        )
        return record

    async def list(
        self, tenant_id: str, *, subject: str = "", after: int = 0, limit: int = 100
    ) -> list[AuditRecord]:
        rows = await self._conn.fetch(
            f"""{_AUDIT_COLUMNS} FROM audit_records
                WHERE tenant_id = $1 AND ($2 = '' OR subject = $2) AND sequence > $3
                ORDER BY sequence LIMIT $4""",
            tenant_id,
            subject,
            after,
            limit,
        )
        return [await self._record(r) for r in rows]

    async def _record(self, row: Any) -> AuditRecord:
        reason = row["reason"]
        if row["reason_sealed"] is not None:
            if self._cipher is None:
                raise SealedAuditReasonUnreadableError(row["tenant_id"], int(row["sequence"]))
            reason = await self._cipher.open_text(
                AUDIT_REASON.table,
                AUDIT_REASON.column,
                row["tenant_id"],
                str(row["sequence"]),
                bytes(row["reason_sealed"]),
            )
        return AuditRecord(
            entry=AuditEntry(
                tenant_id=row["tenant_id"],
                at=row["at"],
                actor=row["actor"],
                action=row["action"],
                subject=row["subject"],
                reason=reason,
                evidence_digest=row["evidence_digest"],
            ),
            sequence=int(row["sequence"]),
            prev_hash=row["prev_hash"],
            hash=row["hash"],
        )


_GET = """SELECT request_id, tenant_id, plugin, version, status, body, body_sealed
            FROM install_requests WHERE tenant_id = $1 AND request_id = $2"""
_GET_FOR_UPDATE = _GET + " FOR UPDATE"
_OF_PLUGIN = """SELECT request_id, tenant_id, plugin, version, status, body, body_sealed
                 FROM install_requests
                WHERE tenant_id = $1 AND plugin = $2 AND status = ANY($3::text[])
                ORDER BY created_at, request_id"""


def _deadline(request: InstallRequest) -> datetime | None:
    if request.status is InstallStatus.PENDING_APPROVAL and request.approval is not None:
        return request.approval.deadline
    return None


class InstallPgUnitOfWork(PgUnitOfWork):
    """The install repositories on one transaction, and its outbox."""

    def __init__(
        self, conn: Connection, *, tenant_id: str, clock: Clock, cipher: FieldCipher | None = None
    ) -> None:
        super().__init__(conn, source=SOURCE, tenant_id=tenant_id, clock=clock)
        self.install_policies = PgInstallPolicyRepository(conn, clock)
        self.install_requests = PgInstallRequestRepository(conn, clock, cipher)
        self.audit = PgAuditLog(conn, cipher)

    async def publish(self, events: Sequence[InstallEvent]) -> None:
        for event in events:
            await self.emit(to_message(event), subject=subject_of(event))
