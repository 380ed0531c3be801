"""Violations (with their evidence) and SLO templates in PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from portico_common.db import Connection
from portico_slo.adapters.spec_json import template_json, template_of
from portico_slo.app.ports import ViolationRecord
from portico_slo.domain.events import SloRecovered, SloViolated
from portico_slo.domain.templates import SloTemplate


def _event_json(event: SloViolated | SloRecovered) -> str:
    return json.dumps(asdict(event), default=lambda v: v.isoformat())


def _violated_of(doc: dict[str, Any]) -> SloViolated:
    return SloViolated(**(doc | {"detected_at": datetime.fromisoformat(doc["detected_at"])}))


def _recovered_of(doc: dict[str, Any]) -> SloRecovered:
    times = {k: datetime.fromisoformat(doc[k]) for k in ("violated_at", "recovered_at")}
    return SloRecovered(**(doc | times))


class PgViolationLog:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def record(self, violation: SloViolated) -> None:
        await self._conn.execute(
            """INSERT INTO slo_violations (violation_id, slo_id, tenant_id, detected_at, violation)
               VALUES ($1, $2, $3, $4, $5::jsonb)""",
            violation.violation_id,
            violation.slo_id,
            violation.tenant_id,
            violation.detected_at,
            _event_json(violation),
        )

    async def resolve(self, recovery: SloRecovered) -> None:
        await self._conn.execute(
            """UPDATE slo_violations SET recovered_at = $2, recovery = $3::jsonb
               WHERE violation_id = $1""",
            recovery.violation_id,
            recovery.recovered_at,
            _event_json(recovery),
        )

    async def recent(self, tenant_id: str, slo_id: str, *, limit: int) -> list[ViolationRecord]:
        rows = await self._conn.fetch(
            """SELECT violation, recovery, recovered_at FROM slo_violations
               WHERE tenant_id = $1 AND ($2 = '' OR slo_id = $2)
               ORDER BY detected_at DESC, violation_id DESC LIMIT $3""",
            tenant_id,
            slo_id,
            limit,
        )
        return [
            ViolationRecord(
                _violated_of(json.loads(r["violation"])),
                r["recovered_at"],
                None if r["recovery"] is None else _recovered_of(json.loads(r["recovery"])),
            )
            for r in rows
        ]


class PgTemplates:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def put(self, tenant_id: str, template: SloTemplate, *, create: bool) -> bool:
        if template.is_default:
            await self._conn.execute(
                """UPDATE slo_templates SET is_default = false,
                       template = jsonb_set(template, '{is_default}', 'false')
                   WHERE tenant_id = $1 AND is_default AND name <> $2""",
                tenant_id,
                template.name,
            )
        doc = json.dumps(template_json(template))
        if create:
            done = await self._conn.fetchval(
                """INSERT INTO slo_templates (tenant_id, name, is_default, template)
                   VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT DO NOTHING RETURNING true""",
                tenant_id,
                template.name,
                template.is_default,
                doc,
            )
        else:
            done = await self._conn.fetchval(
                """UPDATE slo_templates SET is_default = $3, template = $4::jsonb
                   WHERE tenant_id = $1 AND name = $2 RETURNING true""",
                tenant_id,
                template.name,
                template.is_default,
                doc,
            )
        return bool(done)

    async def get(self, tenant_id: str, name: str) -> SloTemplate | None:
        doc = await self._conn.fetchval(
            "SELECT template FROM slo_templates WHERE tenant_id = $1 AND name = $2",
            tenant_id,
            name,
        )
        return None if doc is None else template_of(json.loads(doc))

    async def default(self, tenant_id: str) -> SloTemplate | None:
        doc = await self._conn.fetchval(
            "SELECT template FROM slo_templates WHERE tenant_id = $1 AND is_default",
            tenant_id,
        )
        return None if doc is None else template_of(json.loads(doc))

    async def all(self, tenant_id: str) -> list[SloTemplate]:
        rows = await self._conn.fetch(
            "SELECT template FROM slo_templates WHERE tenant_id = $1 ORDER BY name", tenant_id
        )
        return [template_of(json.loads(r["template"])) for r in rows]

    async def delete(self, tenant_id: str, name: str) -> bool:
        done = await self._conn.fetchval(
            "DELETE FROM slo_templates WHERE tenant_id = $1 AND name = $2 RETURNING true",
            tenant_id,
            name,
        )
        return bool(done)
