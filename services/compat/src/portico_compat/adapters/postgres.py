"""PostgreSQL adapters of the compat ports (tables under FORCE row-level security)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from portico_common.clock import Clock
from portico_common.db import Connection
from portico_common.uow import PgUnitOfWork
from portico_compat.adapters.records import finding_from_json, finding_to_json
from portico_compat.domain.checks import CompatCheck
from portico_compat.domain.compatibility import CompatReport, HostProfile


class PgHostProfileRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, tenant_id: str) -> HostProfile | None:
        row = await self._conn.fetchrow(
            """SELECT tenant_id, backstage_version, node_version, packages
                 FROM host_profiles WHERE tenant_id = $1""",
            tenant_id,
        )
        if row is None:
            return None
        return HostProfile(
            row["tenant_id"],
            row["backstage_version"],
            row["node_version"],
            json.loads(row["packages"]),
        )

    async def save(self, profile: HostProfile, updated_at: datetime) -> None:
        await self._conn.execute(
            """INSERT INTO host_profiles
                   (tenant_id, backstage_version, node_version, packages, updated_at)
               VALUES ($1, $2, $3, $4::jsonb, $5)
               ON CONFLICT (tenant_id) DO UPDATE SET
                   backstage_version = EXCLUDED.backstage_version,
                   node_version = EXCLUDED.node_version,
                   packages = EXCLUDED.packages,
                   updated_at = EXCLUDED.updated_at""",
            profile.tenant_id,
            profile.backstage_version,
            profile.node_version,
            json.dumps(dict(profile.packages), sort_keys=True),
            updated_at,
        )


class PgCompatCheckRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, check: CompatCheck) -> None:
        await self._conn.execute(
            """INSERT INTO compat_checks
                   (check_id, tenant_id, plugin, version, compatible, findings, created_at)
               VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)""",
            uuid.UUID(check.check_id),
            check.tenant_id,
            check.plugin,
            check.version,
            check.compatible,
            json.dumps([finding_to_json(f) for f in check.report.findings]),
            check.created_at,
        )

    async def get(self, check_id: str) -> CompatCheck | None:
        try:
            key = uuid.UUID(check_id)
        except ValueError:
            return None
        row = await self._conn.fetchrow(
            """SELECT check_id, tenant_id, plugin, version, compatible, findings, created_at
                 FROM compat_checks WHERE check_id = $1""",
            key,
        )
        if row is None:
            return None
        findings = tuple(finding_from_json(f) for f in json.loads(row["findings"]))
        return CompatCheck(
            str(row["check_id"]),
            row["tenant_id"],
            row["plugin"],
            row["version"],
            CompatReport(compatible=row["compatible"], findings=findings),
            row["created_at"],
        )


class CompatPgUnitOfWork(PgUnitOfWork):
    def __init__(self, conn: Connection, *, tenant_id: str, clock: Clock) -> None:
        super().__init__(conn, source="portico/compat", tenant_id=tenant_id, clock=clock)
        self.host_profiles = PgHostProfileRepository(conn)
        self.checks = PgCompatCheckRepository(conn)
