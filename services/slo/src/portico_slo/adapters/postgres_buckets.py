"""Outcome buckets in PostgreSQL: counts per SLO and bucket, summed over windows in SQL.

The sums mirror `portico_slo.domain.buckets.summarize` (each bucket judged
as a slice too), with a window of W seconds ending at `now` being

    WHERE bucket > high - W AND bucket <= high      (high: the key of now's bucket)

A slice is good when good / (good + bad) reaches the time-slice target; the
domain forgives the last bits of float rounding (relative 1e-9), and so does
`target * (1 - 1e-9)` here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime

import asyncpg

from portico_common.db import Connection
from portico_slo.app.ports import ActiveSummaries, SloRecord
from portico_slo.domain.buckets import bucket_key
from portico_slo.domain.burn_rate import Counts, WindowSummary

_TOLERANCE = 1 - 1e-9


def _aggregates(target: str) -> str:
    """The summary columns over joined buckets `b`, slices judged against `target`."""
    return f"""coalesce(sum(b.good), 0) AS good, coalesce(sum(b.bad), 0) AS bad,
        count(*) FILTER (WHERE b.good + b.bad > 0
                         AND b.good::float8 / (b.good + b.bad) >= {target} * {_TOLERANCE})
            AS good_slices,
        count(*) FILTER (WHERE b.good + b.bad > 0) AS slices,
        coalesce(sum(b.good::float8 / (b.good + b.bad)) FILTER (WHERE b.good + b.bad > 0), 0)
            AS ratio_sum"""


ROWS_PER_YIELD = 100


def _summary(row: asyncpg.Record) -> WindowSummary:
    # sum(bigint) is numeric, which asyncpg returns as Decimal.
    good_slices = int(row["good_slices"])
    return WindowSummary(
        Counts(good=int(row["good"]), bad=int(row["bad"])),
        good_slices,
        int(row["slices"]) - good_slices,
        float(row["ratio_sum"]),
    )


class PgOutcomeBuckets:
    def __init__(
        self, conn: Connection, record: Callable[[asyncpg.Record], SloRecord], columns: str
    ) -> None:
        self._conn = conn
        self._record = record
        # The SLO columns, unqualified.
        self._columns = columns

    async def add(self, tenant_id: str, slo_id: str, counts: Mapping[int, Counts]) -> None:
        keys = sorted(counts)  # a fixed order, so concurrent upserts lock rows alike
        await self._conn.execute(
            """INSERT INTO outcome_buckets (slo_id, tenant_id, bucket, good, bad)
               SELECT $1, $2, b.bucket, b.good, b.bad
                 FROM unnest($3::bigint[], $4::bigint[], $5::bigint[]) AS b (bucket, good, bad)
               ON CONFLICT (slo_id, bucket) DO UPDATE
                 SET good = outcome_buckets.good + EXCLUDED.good,
                     bad = outcome_buckets.bad + EXCLUDED.bad""",
            slo_id,
            tenant_id,
            keys,
            [counts[k].good for k in keys],
            [counts[k].bad for k in keys],
        )

    async def summaries(
        self, slo: SloRecord, spans: Sequence[tuple[int, int]]
    ) -> list[WindowSummary]:
        if not spans:
            return []
        rows = await self._conn.fetch(
            f"""SELECT s.i, {_aggregates("$4::float8")}
                  FROM unnest($2::bigint[], $3::bigint[]) WITH ORDINALITY AS s (low, high, i)
                  LEFT JOIN outcome_buckets b
                    ON b.slo_id = $1 AND b.bucket > s.low AND b.bucket <= s.high
                 GROUP BY s.i ORDER BY s.i""",  # noqa: S608 - constant SQL fragments
            slo.slo_id,
            [low for low, _ in spans],
            [high for _, high in spans],
            slo.definition.timeslice_target,
        )
        return [_summary(r) for r in rows]

    async def groups(
        self, slo: SloRecord, low: int, high: int, group_seconds: int
    ) -> dict[int, WindowSummary]:
        rows = await self._conn.fetch(
            f"""SELECT floor(b.bucket::float8 / $4)::bigint * $4 AS grp, {_aggregates("$5::float8")}
                  FROM outcome_buckets b
                 WHERE b.slo_id = $1 AND b.bucket > $2 AND b.bucket <= $3
                 GROUP BY grp""",  # noqa: S608 - constant SQL fragments
            slo.slo_id,
            low,
            high,
            group_seconds,
            slo.definition.timeslice_target,
        )
        return {int(r["grp"]): _summary(r) for r in rows}

    async def all_summaries(
        self, now: datetime
    ) -> list[tuple[SloRecord, dict[int, WindowSummary]]]:
        return await self._summaries_of(now, None)

    async def active_summaries(self, now: datetime, burning: Collection[str]) -> ActiveSummaries:
        # The ids first, each part on an index. SLOs with a bucket inside their
        # longest window (the last of their ascending `windows`): the newest
        # buckets of all (outcome_buckets_by_bucket), from a bound below every
        # SLO's window (slos_longest_window) passed as a value so the planner
        # sees how few buckets lie above it, then each SLO's own bound. SLOs
        # with tiers to settle (slos_unsettled), and those the gauge shows
        # burning (the key).
        longest = await self._conn.fetchval(
            "SELECT max(windows[cardinality(windows)] + bucket_seconds) FROM slos"
        )
        high = bucket_key(now)
        row = await self._conn.fetchrow(
            """SELECT ARRAY(
                   SELECT b.slo_id
                     FROM outcome_buckets b
                     JOIN slos s ON s.slo_id = b.slo_id
                    WHERE b.bucket > $3::bigint
                      AND b.bucket <= $1::bigint / s.bucket_seconds * s.bucket_seconds
                      AND b.bucket > $1::bigint / s.bucket_seconds * s.bucket_seconds
                                     - s.windows[cardinality(s.windows)]
                   UNION
                   SELECT slo_id FROM slos WHERE state <> 'OK' OR tier_states <> '{}'::jsonb
                   UNION
                   SELECT slo_id FROM slos WHERE slo_id = ANY($2::text[])
               ) AS ids,
               (SELECT count(*) FROM slos) AS total""",
            high,
            list(burning),
            high - (longest or 0),
        )
        assert row is not None  # noqa: S101 - a SELECT without FROM returns one row
        return ActiveSummaries(await self._summaries_of(now, list(row["ids"])), int(row["total"]))

    async def _summaries_of(
        self, now: datetime, ids: list[str] | None
    ) -> list[tuple[SloRecord, dict[int, WindowSummary]]]:
        """The SLOs with `ids` (every SLO when None) and the summaries of their windows."""
        # Two reads in one snapshot (the caller's transaction): the SLOs once
        # each, and the sums of their windows, which carry only ids and numbers.
        # Separate statements with and without the ids, so neither plan (a
        # prepared statement's generic one included) has to allow for the other.
        args: list[object] = [] if ids is None else [ids]
        only = "" if ids is None else "WHERE s.slo_id = ANY($2::text[])"
        slos = await self._conn.fetch(
            f"""SELECT {self._columns} FROM slos s
                 {only.replace("$2", "$1")}
                 ORDER BY slo_id""",  # noqa: S608 - constant SQL fragments
            *args,
        )
        # `$1 / bucket_seconds * bucket_seconds` is bucket_key for a positive epoch second.
        rows = await self._conn.fetch(
            f"""SELECT s.slo_id, w.seconds AS window_seconds,
                       {_aggregates("s.timeslice_target")}
                  FROM slos s
                 CROSS JOIN LATERAL (
                     SELECT $1::bigint / s.bucket_seconds * s.bucket_seconds AS high) h
                 CROSS JOIN LATERAL unnest(s.windows) AS w (seconds)
                  LEFT JOIN outcome_buckets b
                    ON b.slo_id = s.slo_id
                   AND b.bucket > h.high - w.seconds AND b.bucket <= h.high
                 {only}
                 GROUP BY s.slo_id, w.seconds""",  # noqa: S608 - constant SQL fragments
            bucket_key(now),
            *args,
        )
        # Tens of thousands of rows for every tenant's SLOs: the loops hand the event
        # loop back now and then, so the process's RPCs are served in between.
        sums: dict[str, dict[int, WindowSummary]] = {}
        for index, row in enumerate(rows):
            if index and index % ROWS_PER_YIELD == 0:
                await asyncio.sleep(0)
            sums.setdefault(row["slo_id"], {})[int(row["window_seconds"])] = _summary(row)
        found: list[tuple[SloRecord, dict[int, WindowSummary]]] = []
        for index, raw in enumerate(slos):
            if index and index % ROWS_PER_YIELD == 0:
                await asyncio.sleep(0)
            slo = self._record(raw)
            found.append((slo, sums.get(slo.slo_id, {})))
        return found

    async def prune(self, now: datetime) -> int:
        # Mirrors portico_slo.domain.retention.retention_seconds, rounded up to whole buckets.
        deleted = await self._conn.fetchval(
            """WITH keep AS (
                   SELECT s.slo_id, s.bucket_seconds,
                          $1::bigint / s.bucket_seconds * s.bucket_seconds AS high,
                          (greatest((SELECT max(w) FROM unnest(s.windows) w),
                                    2 * s.window_seconds + 86400)
                           + s.bucket_seconds - 1) / s.bucket_seconds * s.bucket_seconds
                              AS seconds
                     FROM slos s),
               gone AS (
                   DELETE FROM outcome_buckets b USING keep k
                    WHERE b.slo_id = k.slo_id AND b.bucket <= k.high - k.seconds
                   RETURNING 1)
               SELECT count(*) FROM gone""",
            bucket_key(now),
        )
        return int(deleted)
