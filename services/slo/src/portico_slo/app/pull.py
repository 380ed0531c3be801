"""Pulled SLIs: read each step from the metrics source, count it, judge the SLO.

Steps are a pulled SLO's buckets; a step is read once it is `lag_seconds`
old (the source must have scraped it), and `pulled_until` remembers where
the last read ended, so replicas and restarts neither skip nor double-count
a step: the read is committed with its counts, under the SLO's row lock, and
a replica that finds `pulled_until` moved since it looked drops its read.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from portico_common.tenants import ALL_TENANTS
from portico_slo.app.evaluation import judge, log_events
from portico_slo.app.ports import BurnRateGauge, MetricsSource, UnitOfWorkFactory
from portico_slo.domain.buckets import bucket_key
from portico_slo.domain.burn_rate import Counts

log = logging.getLogger(__name__)

# How far back a pulled SLO's first read reaches.
FIRST_READ_SECONDS = 3_600


async def pull_all(
    uow: UnitOfWorkFactory,
    gauge: BurnRateGauge,
    source: MetricsSource,
    *,
    lag_seconds: int = 30,
) -> int:
    """Reads every pulled SLO's finished steps and judges it; returns how many steps were read."""
    async with uow(ALL_TENANTS) as tx:
        slos = await tx.slos.pulled()
        now = tx.clock.now()
    steps = 0
    for slo in slos:
        b = slo.bucket_seconds
        end = _instant(bucket_key(now - timedelta(seconds=lag_seconds), b))
        start = slo.pulled_until or end - timedelta(seconds=FIRST_READ_SECONDS)
        if end <= start:
            continue
        samples = await source.read(slo.definition, start, end, b)
        async with uow(slo.tenant_id) as tx:
            locked = await tx.slos.lock(slo.tenant_id, slo.slo_id)
            if locked is None or locked.pulled_until != slo.pulled_until:
                continue  # deleted, or another replica read these steps first
            counts: dict[int, Counts] = {}
            for sample in samples:
                if start <= sample.start < end and sample.counts.total:
                    key = bucket_key(sample.start, b)
                    counts[key] = counts.get(key, Counts()) + sample.counts
            if counts:
                await tx.buckets.add(slo.tenant_id, slo.slo_id, counts)
            await tx.slos.set_pulled(slo.tenant_id, slo.slo_id, end)
            judged = await judge(tx, replace(locked, pulled_until=end), tx.clock.now())
        steps += (end - start) // timedelta(seconds=b)
        gauge.set(slo.definition, judged.evaluation.short_burn, judged.evaluation.long_burn)
        log_events(judged.events)
    return steps


def _instant(epoch_second: int) -> datetime:
    return datetime.fromtimestamp(epoch_second, UTC)
