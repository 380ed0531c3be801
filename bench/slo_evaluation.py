"""The evaluator's tick over 10,000 SLOs, next to a raw loop over the same buckets; detection times.

Portico: `evaluate_all`, the slo service's tick, on PostgreSQL: one read sums
every SLO's seven tier windows in SQL, the four workbook tiers are judged per
SLO, and the SLOs whose tiers change (1% of them here, failing) are locked and
judged again in their tenant's transaction, with their violations recorded
and queued. It must finish within the tick interval (10 s by default).

Baseline, same run, same buckets: every bucket row fetched with one SELECT
and the same windows summed and compared in a plain Python loop (no state,
no transactions, no events).

Then the SRE workbook's detection-time table (99.9% SLO, sudden constant
error rates) beside the times the domain measures on a manual clock.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from portico_common.clock import ManualClock
from portico_common.db import Database, open_database
from portico_common.tenants import ALL_TENANTS
from portico_embedded.postgres import PostgresServer
from portico_embedded.testing.databases import migrate_database
from portico_slo.adapters.memory import MemoryBurnRates
from portico_slo.adapters.postgres import pg_uow_factory
from portico_slo.app.evaluation import evaluate_all
from portico_slo.app.ports import SloRecord
from portico_slo.bootstrap import MIGRATIONS, SERVICE
from portico_slo.domain.buckets import bucket_key
from portico_slo.domain.detection import simulate
from portico_slo.domain.objective import SloDefinition, bucket_seconds_for
from portico_slo.domain.slo import SloStatus
from portico_slo.settings import SloSettings

SLOS = int(os.environ.get("BENCH_SLO_COUNT", "10000"))
# Buckets of traffic per SLO (10 s each): the last 10 minutes.
BUCKETS = int(os.environ.get("BENCH_SLO_BUCKETS", "60"))
TENANTS = 20
TICK = SloSettings.model_fields["slo_gauge_refresh_seconds"].default
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


async def seed(db: Database, clock: ManualClock, admin_url: str) -> None:
    uow = pg_uow_factory(db, clock)
    rng = random.Random(11)  # noqa: S311 - reproducible test data, not secrets
    async with uow(ALL_TENANTS) as tx:
        for i in range(SLOS):
            definition = SloDefinition.with_defaults(
                slo_id=f"slo-{i:05d}",
                tenant_id=f"tenant-{i % TENANTS}",
                plugin=f"@bench/plugin-{i}",
                version="1.0.0",
                objective=0.999,
            )
            await tx.slos.add(
                SloRecord(
                    definition, SloStatus(definition.slo_id), bucket_seconds_for(definition), NOW
                )
            )
    high = bucket_key(NOW, 10)
    rows = []
    for i in range(SLOS):
        failing = i % 100 == 0  # 1% of the versions are burning their budget
        for k in range(BUCKETS):
            bad = rng.randrange(20, 40) if failing else int(rng.random() < 0.05)
            rows.append((f"slo-{i:05d}", f"tenant-{i % TENANTS}", high - 10 * k, 200 - bad, bad))
    # COPY is refused under row-level security: the administrator, who bypasses it, loads.
    conn = await admin(admin_url)
    try:
        await conn.copy_records_to_table(
            "outcome_buckets",
            records=rows,
            columns=["slo_id", "tenant_id", "bucket", "good", "bad"],
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def admin(url: str) -> asyncpg.Connection:
    """The administrator's connection to slo's schema (row-level security does not apply)."""
    return await asyncpg.connect(url, server_settings={"search_path": SERVICE})


async def raw_loop(admin_url: str) -> float:
    """One SELECT of every bucket, then the windows summed and compared in plain Python.

    As the administrator: a raw loop pays no row-level security (the tick does).
    """
    started = time.perf_counter()
    conn = await admin(admin_url)
    try:
        slos = await conn.fetch("SELECT slo_id, objective FROM slos")
        buckets = await conn.fetch("SELECT slo_id, bucket, good, bad FROM outcome_buckets")
    finally:
        await conn.close()
    by_slo: dict[str, list[tuple[int, int, int]]] = {}
    for row in buckets:
        by_slo.setdefault(row["slo_id"], []).append((row["bucket"], row["good"], row["bad"]))
    high = bucket_key(NOW, 10)
    tiers = ((300, 3600, 14.4), (1800, 21_600, 6.0), (7200, 86_400, 3.0), (21_600, 259_200, 1.0))
    tripped = 0
    for slo in slos:
        budget = 1 - slo["objective"]
        rows = by_slo.get(slo["slo_id"], [])
        for short, long, factor in tiers:
            burns = []
            for window in (short, long):
                good = bad = 0
                for key, g, b in rows:
                    if high - window < key <= high:
                        good += g
                        bad += b
                burns.append(bad / (good + bad) / budget if good + bad else 0.0)
            tripped += all(b >= factor for b in burns)
    assert tripped > 0
    return time.perf_counter() - started


async def tick(db: Database, clock: ManualClock) -> float:
    started = time.perf_counter()
    evaluated = await evaluate_all(pg_uow_factory(db, clock), MemoryBurnRates())
    assert evaluated == SLOS
    return time.perf_counter() - started


class _Clock(ManualClock):
    def advance_seconds(self, seconds: int) -> None:
        self.advance(seconds=seconds)


def detection_table() -> None:
    definition = SloDefinition.with_defaults(
        slo_id="s", tenant_id="t", plugin="p", version="1", objective=0.999
    )
    print("  detection time, 99.9% SLO, sudden constant error rate (workbook formula | measured)")
    print(
        "    error rate   page-1h (14.4)       page-6h (6)          "
        "ticket-1d (3)        ticket-3d (1)"
    )
    for rate, step in ((1.0, 1), (0.5, 1), (0.1, 1), (0.05, 10), (0.02, 10), (0.01, 10)):
        clock = _Clock(NOW)
        results = simulate(
            definition,
            rate,
            now=clock.now,
            advance=clock.advance_seconds,
            step_seconds=step,
        )
        cells = []
        for r in results:
            if r.workbook_seconds is None:
                measured = "never" if r.measured_seconds is None else _time(r.measured_seconds)
                cells.append(f"{'never':>8} | {measured:<8}")
            else:
                cells.append(f"{_time(r.workbook_seconds):>8} | {_time(r.measured_seconds):<8}")
        print(f"    {rate:>9.1%}   " + "   ".join(cells) + f"   (step {step}s)")


def _time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 600:
        return f"{seconds:.1f}s"
    if seconds < 36_000:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


async def main() -> None:
    # The 1% that violate would log a warning each.
    logging.getLogger("portico_slo").setLevel(logging.ERROR)
    home = Path(tempfile.mkdtemp(prefix="portico-bench-"))
    pg = PostgresServer(home / "pg", fsync=False, password=secrets.token_hex(16)).start()
    clock = ManualClock(NOW)
    try:
        # The evaluator connects as slo's own role, as the service does.
        slo_url = await migrate_database(pg.url, SERVICE, MIGRATIONS)
        db = await open_database(slo_url, SERVICE, max_size=4)
        await seed(db, clock, pg.url)
        first = await tick(db, clock)  # judges and records the failing 1%
        steady = [await tick(db, clock) for _ in range(3)]
        raw = [await raw_loop(pg.url) for _ in range(3)]
        await db.close()
    finally:
        pg.stop()
    ours, base = statistics.median(steady), statistics.median(raw)
    print(f"slo evaluation ({SLOS:,} SLOs x 4 tiers, {BUCKETS} buckets each, tick {TICK:g}s)")
    print(f"  baseline raw loop (one SELECT, Python sums): {base:.2f}s")
    print(f"  portico tick, first (1% violate, recorded): {first:.2f}s")
    print(
        f"  portico tick, steady (median of 3)        : {ours:.2f}s "
        f"= {ours / TICK:.0%} of the tick interval"
    )
    print(f"  ratio (portico / raw loop): {ours / base:.2f}")
    detection_table()
