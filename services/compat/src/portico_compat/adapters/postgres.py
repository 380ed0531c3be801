"""PostgreSQL adapters of the compat ports (tables under FORCE row-level security)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from portico_common.clock import Clock
from portico_common.db import Connection
from portico_common.uow import PgUnitOfWork
from portico_compat.adapters.messages import subject_of, to_message
from portico_compat.adapters.records import (
    api_from_json,
    api_to_json,
    declared_from_json,
    declared_to_json,
    dimension_from_json,
    dimension_to_json,
    finding_from_json,
    finding_to_json,
    rule_from_json,
    rule_to_json,
)
from portico_compat.adapters.tenant_resources import PgTenantResourcesRepository
from portico_compat.domain.apis import HostApiCatalog
from portico_compat.domain.checks import CompatCheck
from portico_compat.domain.compatibility import CompatReport, HostProfile
from portico_compat.domain.events import CompatEvent
from portico_compat.domain.permissions import Decision, PermissionPolicy
from portico_compat.domain.releases import ReleaseManifest


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
                   (check_id, tenant_id, plugin, version, compatible, findings, created_at,
                    dimensions, declared)
               VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8::jsonb, $9::jsonb)""",
            uuid.UUID(check.check_id),
            check.tenant_id,
            check.plugin,
            check.version,
            check.compatible,
            json.dumps([finding_to_json(f) for f in check.report.findings]),
            check.created_at,
            json.dumps([dimension_to_json(d) for d in check.report.dimensions]),
            json.dumps(
                declared_to_json(check.consumes, check.provides, check.permissions, check.resources)
            ),
        )

    async def get(self, check_id: str) -> CompatCheck | None:
        try:
            key = uuid.UUID(check_id)
        except ValueError:
            return None
        row = await self._conn.fetchrow(f"{_SELECT_CHECK} WHERE check_id = $1", key)
        return None if row is None else _check_from_row(row)

    async def latest(self, plugin: str, version: str) -> CompatCheck | None:
        row = await self._conn.fetchrow(
            f"""{_SELECT_CHECK} WHERE plugin = $1 AND version = $2
                 ORDER BY created_at DESC, check_id DESC LIMIT 1""",
            plugin,
            version,
        )
        return None if row is None else _check_from_row(row)


class _Row(Protocol):
    """What is read of an asyncpg Record (compat does not depend on asyncpg itself)."""

    def __getitem__(self, key: str) -> Any: ...


_SELECT_CHECK = """SELECT check_id, tenant_id, plugin, version, compatible, findings, created_at,
                          dimensions, declared
                     FROM compat_checks"""


def _check_from_row(row: _Row) -> CompatCheck:
    findings = tuple(finding_from_json(f) for f in json.loads(row["findings"]))
    dimensions = tuple(dimension_from_json(d) for d in json.loads(row["dimensions"]))
    consumes, provides, permissions, resources = declared_from_json(json.loads(row["declared"]))
    return CompatCheck(
        str(row["check_id"]),
        row["tenant_id"],
        row["plugin"],
        row["version"],
        CompatReport(compatible=row["compatible"], findings=findings, dimensions=dimensions),
        row["created_at"],
        consumes,
        provides,
        permissions,
        resources,
    )


class PgApiCatalogRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, tenant_id: str, release: str) -> HostApiCatalog | None:
        row = await self._conn.fetchrow(
            """SELECT apis FROM host_api_catalogs
                WHERE tenant_id = $1 AND backstage_release = $2""",
            tenant_id,
            release,
        )
        if row is None:
            return None
        apis = [api_from_json(a) for a in json.loads(row["apis"])]
        return HostApiCatalog.of(tenant_id, release, apis)

    async def save(self, catalog: HostApiCatalog, updated_at: datetime) -> None:
        await self._conn.execute(
            """INSERT INTO host_api_catalogs (tenant_id, backstage_release, apis, updated_at)
               VALUES ($1, $2, $3::jsonb, $4)
               ON CONFLICT (tenant_id, backstage_release) DO UPDATE SET
                   apis = EXCLUDED.apis, updated_at = EXCLUDED.updated_at""",
            catalog.tenant_id,
            catalog.backstage_release,
            json.dumps([api_to_json(a) for a in catalog.apis.values()]),
            updated_at,
        )


class PgReleaseManifestRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, tenant_id: str, release: str) -> ReleaseManifest | None:
        row = await self._conn.fetchrow(
            """SELECT packages FROM release_manifests
                WHERE tenant_id = $1 AND backstage_release = $2""",
            tenant_id,
            release,
        )
        if row is None:
            return None
        return ReleaseManifest(tenant_id, release, json.loads(row["packages"]))

    async def save(self, manifest: ReleaseManifest, updated_at: datetime) -> None:
        await self._conn.execute(
            """INSERT INTO release_manifests (tenant_id, backstage_release, packages, updated_at)
               VALUES ($1, $2, $3::jsonb, $4)
               ON CONFLICT (tenant_id, backstage_release) DO UPDATE SET
                   packages = EXCLUDED.packages, updated_at = EXCLUDED.updated_at""",
            manifest.tenant_id,
            manifest.backstage_release,
            json.dumps(dict(manifest.packages), sort_keys=True),
            updated_at,
        )

    async def all_for(self, tenant_id: str) -> list[ReleaseManifest]:
        rows = await self._conn.fetch(
            """SELECT backstage_release, packages FROM release_manifests WHERE tenant_id = $1""",
            tenant_id,
        )
        return [
            ReleaseManifest(tenant_id, row["backstage_release"], json.loads(row["packages"]))
            for row in rows
        ]


class PgPermissionPolicyRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, tenant_id: str) -> PermissionPolicy | None:
        row = await self._conn.fetchrow(
            "SELECT rules, default_decision FROM permission_policies WHERE tenant_id = $1",
            tenant_id,
        )
        if row is None:
            return None
        rules = tuple(rule_from_json(r) for r in json.loads(row["rules"]))
        return PermissionPolicy(tenant_id, rules, Decision(row["default_decision"]))

    async def save(self, policy: PermissionPolicy, updated_at: datetime) -> None:
        await self._conn.execute(
            """INSERT INTO permission_policies (tenant_id, rules, default_decision, updated_at)
               VALUES ($1, $2::jsonb, $3, $4)
               ON CONFLICT (tenant_id) DO UPDATE SET
                   rules = EXCLUDED.rules,
                   default_decision = EXCLUDED.default_decision,
                   updated_at = EXCLUDED.updated_at""",
            policy.tenant_id,
            json.dumps([rule_to_json(r) for r in policy.rules]),
            policy.default.value,
            updated_at,
        )


class CompatPgUnitOfWork(PgUnitOfWork):
    def __init__(self, conn: Connection, *, tenant_id: str, clock: Clock) -> None:
        super().__init__(conn, source="portico/compat", tenant_id=tenant_id, clock=clock)
        self.host_profiles = PgHostProfileRepository(conn)
        self.checks = PgCompatCheckRepository(conn)
        self.api_catalogs = PgApiCatalogRepository(conn)
        self.release_manifests = PgReleaseManifestRepository(conn)
        self.permission_policies = PgPermissionPolicyRepository(conn)
        self.tenant_resources = PgTenantResourcesRepository(conn)

    async def publish(self, events: Sequence[CompatEvent]) -> None:
        for event in events:
            await self.emit(to_message(event), subject=subject_of(event))
