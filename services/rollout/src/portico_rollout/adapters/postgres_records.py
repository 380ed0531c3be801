"""PostgreSQL decisions (with their evidence) and audit records."""

from __future__ import annotations

import json

import asyncpg

from portico_common.db import Connection
from portico_rollout.domain.audit import AuditRecord
from portico_rollout.domain.decisions import Decision, DecisionKind, DecisionSource

_DECISION = (
    "tenant_id, rollout_id, seq, at, kind, source, phase_index, percent, to_percent,"
    " reasons, evidence, attempt"
)


def _decision(row: asyncpg.Record) -> Decision:
    return Decision(
        tenant_id=row["tenant_id"],
        rollout_id=row["rollout_id"],
        seq=row["seq"],
        at=row["at"],
        kind=DecisionKind(row["kind"]),
        source=DecisionSource(row["source"]),
        phase_index=row["phase_index"],
        percent=row["percent"],
        to_percent=row["to_percent"],
        reasons=tuple(row["reasons"]),
        evidence=json.loads(row["evidence"]),
        attempt=row["attempt"],
    )


class PgDecisionRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, decision: Decision) -> None:
        await self._conn.execute(
            f"""INSERT INTO rollout_decisions ({_DECISION})
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12)""",  # noqa: S608 - constant column list
            decision.tenant_id,
            decision.rollout_id,
            decision.seq,
            decision.at,
            decision.kind.value,
            decision.source.value,
            decision.phase_index,
            decision.percent,
            decision.to_percent,
            list(decision.reasons),
            # JSON has no NaN; evidence never holds one (the judge writes null).
            json.dumps(decision.evidence, allow_nan=False),
            decision.attempt,
        )

    async def for_rollout(
        self, tenant_id: str, rollout_id: str, *, after_seq: int = 0, limit: int = 1000
    ) -> list[Decision]:
        rows = await self._conn.fetch(
            f"""SELECT {_DECISION} FROM rollout_decisions
                 WHERE tenant_id = $1 AND rollout_id = $2 AND seq > $3
                 ORDER BY seq LIMIT $4""",  # noqa: S608 - constant column list
            tenant_id,
            rollout_id,
            after_seq,
            limit,
        )
        return [_decision(r) for r in rows]

    async def latest(self, tenant_id: str, rollout_id: str, limit: int) -> list[Decision]:
        rows = await self._conn.fetch(
            f"""SELECT {_DECISION} FROM rollout_decisions
                 WHERE tenant_id = $1 AND rollout_id = $2
                 ORDER BY seq DESC LIMIT $3""",  # noqa: S608 - constant column list
            tenant_id,
            rollout_id,
            limit,
        )
        return [_decision(r) for r in rows]


class PgAuditRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, record: AuditRecord) -> None:
        await self._conn.execute(
            """INSERT INTO rollout_audit (tenant_id, rollout_id, at, actor, action, reason, detail)
               VALUES ($1, $2, $3, $4, $5, $6, $7)""",
            record.tenant_id,
            record.rollout_id,
            record.at,
            record.actor,
            record.action,
            record.reason,
            record.detail,
        )

    async def page(
        self, tenant_id: str, rollout_id: str, *, after: int, limit: int
    ) -> list[AuditRecord]:
        rows = await self._conn.fetch(
            """SELECT seq, tenant_id, rollout_id, at, actor, action, reason, detail
                 FROM rollout_audit
                WHERE tenant_id = $1 AND ($2 = '' OR rollout_id = $2) AND seq > $3
                ORDER BY seq LIMIT $4""",
            tenant_id,
            rollout_id,
            after,
            limit,
        )
        return [
            AuditRecord(
                tenant_id=r["tenant_id"],
                rollout_id=r["rollout_id"],
                at=r["at"],
                actor=r["actor"],
                action=r["action"],
                reason=r["reason"],
                detail=r["detail"],
                seq=r["seq"],
            )
            for r in rows
        ]
