"""PostgreSQL tallies of outcomes per version and second (table version_outcomes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from portico_common.db import Connection
from portico_slo.domain.version_outcomes import Tally


class PgVersionOutcomes:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(
        self, tenant_id: str, plugin: str, version: str, seconds: Mapping[int, Tally]
    ) -> None:
        keys = sorted(seconds)  # one order, so concurrent reports lock rows alike
        # Histograms go as one text literal per row: unnest cannot take a
        # ragged array of arrays, and each literal is parsed back as bigint[].
        await self._conn.execute(
            """INSERT INTO version_outcomes
                      (tenant_id, plugin, version, second, total, errors, latency_sum_ms, histogram)
               SELECT $1, $2, $3, t.second, t.total, t.errors, t.latency_sum_ms,
                      t.histogram::bigint[]
                 FROM unnest($4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::text[])
                      AS t (second, total, errors, latency_sum_ms, histogram)
               ON CONFLICT (tenant_id, plugin, version, second) DO UPDATE
                 SET total = version_outcomes.total + EXCLUDED.total,
                     errors = version_outcomes.errors + EXCLUDED.errors,
                     latency_sum_ms = version_outcomes.latency_sum_ms + EXCLUDED.latency_sum_ms,
                     histogram = ARRAY(
                         SELECT a + b FROM unnest(version_outcomes.histogram, EXCLUDED.histogram)
                                         AS h (a, b))""",
            tenant_id,
            plugin,
            version,
            keys,
            [seconds[k].total for k in keys],
            [seconds[k].errors for k in keys],
            [seconds[k].latency_sum_ms for k in keys],
            ["{" + ",".join(map(str, seconds[k].histogram)) + "}" for k in keys],
        )

    async def read(
        self, tenant_id: str, plugin: str, versions: Sequence[str], start: int, end: int
    ) -> dict[str, dict[int, Tally]]:
        rows = await self._conn.fetch(
            """SELECT version, second, total, errors, latency_sum_ms, histogram
                 FROM version_outcomes
                WHERE tenant_id = $1 AND plugin = $2 AND version = ANY($3::text[])
                  AND second >= $4 AND second < $5""",
            tenant_id,
            plugin,
            list(versions),
            start,
            end,
        )
        found: dict[str, dict[int, Tally]] = {version: {} for version in versions}
        for r in rows:
            found[r["version"]][r["second"]] = Tally(
                r["total"], r["errors"], r["latency_sum_ms"], tuple(r["histogram"])
            )
        return found

    async def prune(self, before: int) -> int:
        deleted = await self._conn.fetchval(
            """WITH gone AS (DELETE FROM version_outcomes WHERE second < $1 RETURNING 1)
               SELECT count(*) FROM gone""",
            before,
        )
        return int(deleted or 0)
