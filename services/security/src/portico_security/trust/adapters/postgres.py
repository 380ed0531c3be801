"""PostgreSQL adapters of the advisory and trust ports (migration 0004).

`TrustPgUnitOfWork` carries only these repositories; a use case that needs
them inside another unit of work builds them on its connection:
`PgAdvisoryRepository(conn)`, `PgTrustPolicyRepository(conn)`,
`PgTrustVerdictRepository(conn)`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from portico_common.clock import Clock
from portico_common.db import POOL, Connection, Database
from portico_common.tenants import ALL_TENANTS
from portico_common.uow import PgUnitOfWork
from portico_security.trust.domain.advisories import Advisory
from portico_security.trust.domain.osv import parse_osv
from portico_security.trust.domain.policy import TrustPolicy, TrustVerdict
from portico_security.trust.domain.scores import Evidence, Factor, TrustScore, TrustWeights
from portico_security.verification.adapters.postgres import SOURCE, PgPublisherKeyRepository


class PgAdvisoryRepository:
    """Advisories are platform rows: they live in the shared tables only.

    A bridge tenant's transaction sees its own schema and a silo tenant's its
    own database, where the advisory tables are empty; with `shared` given,
    reads go to the shared tables through a platform transaction of their
    own, so every tier is matched against the same advisories.
    """

    def __init__(self, conn: Connection, shared: Database | None = None) -> None:
        self._conn = conn
        self._shared = shared

    @asynccontextmanager
    async def _reader(self) -> AsyncIterator[Connection]:
        if self._shared is None:
            yield self._conn
            return
        async with self._shared.platform_transaction(POOL) as conn:
            yield conn

    async def modified_of(self, ids: Collection[str]) -> dict[str, datetime]:
        async with self._reader() as conn:
            rows = await conn.fetch(
                "SELECT advisory_id, modified FROM advisories WHERE advisory_id = ANY($1::text[])",
                list(ids),
            )
        return {r["advisory_id"]: r["modified"] for r in rows}

    async def save(self, advisories: Sequence[Advisory], imported_at: datetime) -> None:
        # Three statements per batch, not per advisory: a feed holds 10^5 documents.
        await self._conn.executemany(
            """INSERT INTO advisories
                   (advisory_id, modified, published, withdrawn, document, imported_at)
               VALUES ($1, $2, $3, $4, $5::jsonb, $6)
               ON CONFLICT (advisory_id) DO UPDATE SET
                   modified = EXCLUDED.modified, published = EXCLUDED.published,
                   withdrawn = EXCLUDED.withdrawn, document = EXCLUDED.document,
                   imported_at = EXCLUDED.imported_at""",
            [
                (
                    a.id,
                    a.modified,
                    a.published,
                    a.withdrawn,
                    json.dumps(a.document),
                    imported_at,
                )
                for a in advisories
            ],
        )
        await self._conn.execute(
            "DELETE FROM advisory_packages WHERE advisory_id = ANY($1::text[])",
            [a.id for a in advisories],
        )
        await self._conn.executemany(
            "INSERT INTO advisory_packages (advisory_id, package) VALUES ($1, $2)",
            [(a.id, package) for a in advisories for package in sorted(a.packages)],
        )

    async def for_packages(self, names: Collection[str]) -> list[Advisory]:
        if not names:
            return []
        async with self._reader() as conn:
            rows = await conn.fetch(
                """SELECT a.advisory_id, a.document FROM advisories a
                    WHERE a.advisory_id IN (SELECT advisory_id FROM advisory_packages
                                             WHERE package = ANY($1::text[]))
                    ORDER BY a.advisory_id""",
                list(names),
            )
        # Stored documents passed validation on import; parsing again keeps one code path.
        return [parse_osv(json.loads(r["document"]), f"stored {r['advisory_id']}") for r in rows]


class PgTrustPolicyRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, tenant_id: str) -> TrustPolicy | None:
        row = await self._conn.fetchrow(
            """SELECT publisher, security_history, community, quality, update_cadence, updated_at
                 FROM trust_policies WHERE tenant_id = $1""",
            tenant_id,
        )
        if row is None:
            return None
        return TrustPolicy(
            tenant_id=tenant_id,
            weights=TrustWeights(
                publisher=row["publisher"],
                security_history=row["security_history"],
                community=row["community"],
                quality=row["quality"],
                update_cadence=row["update_cadence"],
            ),
            customized=True,
            updated_at=row["updated_at"],
        )

    async def put(self, policy: TrustPolicy) -> None:
        w = policy.weights
        await self._conn.execute(
            """INSERT INTO trust_policies (tenant_id, publisher, security_history, community,
                   quality, update_cadence, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (tenant_id) DO UPDATE SET
                   publisher = EXCLUDED.publisher, security_history = EXCLUDED.security_history,
                   community = EXCLUDED.community, quality = EXCLUDED.quality,
                   update_cadence = EXCLUDED.update_cadence, updated_at = EXCLUDED.updated_at""",
            policy.tenant_id,
            w.publisher,
            w.security_history,
            w.community,
            w.quality,
            w.update_cadence,
            policy.updated_at,
        )


class PgTrustVerdictRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, verdict: TrustVerdict) -> None:
        await self._conn.execute(
            """INSERT INTO trust_scores (score_id, tenant_id, plugin, version, score, weights,
                   factors, inputs_digest, scored_at)
               VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9)""",
            uuid.UUID(verdict.score_id),
            verdict.tenant_id,
            verdict.plugin,
            verdict.version,
            verdict.trust.score,
            json.dumps(verdict.trust.weights.as_dict()),
            json.dumps([factor_to_json(f) for f in verdict.trust.factors]),
            verdict.trust.inputs_digest,
            verdict.scored_at,
        )

    async def get(self, tenant_id: str, score_id: str) -> TrustVerdict | None:
        try:
            wanted = uuid.UUID(score_id)
        except ValueError:
            return None
        row = await self._conn.fetchrow(
            """SELECT score_id, tenant_id, plugin, version, score, weights, factors,
                      inputs_digest, scored_at
                 FROM trust_scores WHERE tenant_id = $1 AND score_id = $2""",
            tenant_id,
            wanted,
        )
        if row is None:
            return None
        return TrustVerdict(
            score_id=str(row["score_id"]),
            tenant_id=row["tenant_id"],
            plugin=row["plugin"],
            version=row["version"],
            trust=TrustScore(
                score=row["score"],
                factors=tuple(factor_from_json(f) for f in json.loads(row["factors"])),
                weights=TrustWeights(**json.loads(row["weights"])),
                inputs_digest=row["inputs_digest"],
            ),
            scored_at=row["scored_at"],
        )


def factor_to_json(factor: Factor) -> dict[str, Any]:
    return {
        "name": factor.name,
        "score": factor.score,
        "weight": factor.weight,
        "evidence": [
            {
                "signal": e.signal,
                "value": e.value,
                "points": e.points,
                "scorecard_check": e.scorecard_check,
            }
            for e in factor.evidence
        ],
    }


def factor_from_json(data: Mapping[str, Any]) -> Factor:
    return Factor(
        name=str(data["name"]),
        score=int(data["score"]),
        weight=int(data["weight"]),
        evidence=tuple(
            Evidence(
                signal=str(e["signal"]),
                value=str(e["value"]),
                points=int(e["points"]),
                scorecard_check=str(e["scorecard_check"]),
            )
            for e in data["evidence"]
        ),
    )


class TrustPgUnitOfWork(PgUnitOfWork):
    def __init__(
        self, conn: Connection, *, tenant_id: str, clock: Clock, shared: Database | None = None
    ) -> None:
        super().__init__(conn, source=SOURCE, tenant_id=tenant_id, clock=clock)
        # A tenant's unit of work reads the platform's advisories from the shared tables.
        self.advisories = PgAdvisoryRepository(conn, None if tenant_id == ALL_TENANTS else shared)
        self.trust_policies = PgTrustPolicyRepository(conn)
        self.trust_verdicts = PgTrustVerdictRepository(conn)
        # The key registry's own repository, read for the publisher key's age.
        self.publisher_keys = PgPublisherKeyRepository(conn)
