"""The pull adapter against a real Prometheus (Debian's package) scraping a local test target.

Also the pull job's pass over every place (`each_place`): pulled SLOs of
bridge and silo tenants are read and their counts stored in their own place.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from portico_common.clock import SystemClock
from portico_common.db import Database, Tier, database_url
from portico_common.places import each_place
from portico_embedded.prometheus import PrometheusServer
from portico_embedded.testing.databases import placed_tenants
from portico_embedded.testing.fixtures import unique_tenant
from portico_slo.adapters.memory import MemoryBurnRates, MemoryStore
from portico_slo.adapters.postgres import pg_uow_factory
from portico_slo.adapters.prometheus import PrometheusMetrics
from portico_slo.app import handlers, pull
from portico_slo.bootstrap import MIGRATIONS, SERVICE
from portico_slo.domain.indicator import Indicator, PrometheusSource
from portico_slo.domain.scope import Scope
from portico_slo.domain.templates import SloSpec
from portico_slo.domain.tiers import AlertPolicy
from portico_slo.errors import PullError

pytestmark = pytest.mark.integration

GOOD = 'plugin_requests_total{code="ok"}'
ALL = "plugin_requests_total"
P99 = "histogram_quantile(0.99, sum by (le) (rate(plugin_request_seconds_bucket[{{window}}])))"


@dataclass
class Target:
    """A process's /metrics (prometheus_client's own server) with request counters."""

    requests: Counter
    latency: Histogram
    address: str

    def serve(self, ok: int, failed: int, seconds: float) -> None:
        self.requests.labels("ok").inc(ok)
        self.requests.labels("error").inc(failed)
        for _ in range(ok + failed):
            self.latency.observe(seconds)


@pytest.fixture
def target() -> Iterator[Target]:
    registry = CollectorRegistry()
    requests = Counter("plugin_requests", "Requests served", ["code"], registry=registry)
    latency = Histogram("plugin_request_seconds", "Latency", registry=registry)
    for code in ("ok", "error"):
        requests.labels(code).inc(0)  # both series exist before the first request
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    yield Target(requests, latency, f"127.0.0.1:{server.server_port}")
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def prometheus(tmp_path: Path, target: Target) -> Iterator[PrometheusServer]:
    server = PrometheusServer(tmp_path / "prometheus", [target.address], scrape_interval="500ms")
    server.start()
    yield server
    server.stop()


async def drive(target: Target, seconds: int, ok: int, failed: int, latency: float = 0.05) -> None:
    """`ok` and `failed` requests every second for `seconds` seconds."""
    for _ in range(seconds):
        target.serve(ok, failed, latency)
        await asyncio.sleep(1)


def pulled(source: PrometheusSource) -> SloSpec:
    # Seconds-long windows (1 s buckets), so the test runs in seconds of real time.
    return SloSpec(
        objective=0.99,
        indicator=Indicator(prometheus=source),
        alerting=AlertPolicy.single(
            factor=10, short_window_seconds=5, long_window_seconds=30, min_events=5
        ),
    )


async def test_ratio_queries_count_events_per_step(
    prometheus: PrometheusServer, target: Target
) -> None:
    """Counter increases per step add up to the requests served, good and bad apart."""
    # A second on, so the first step starts after the counters' first scrape.
    await asyncio.sleep(1)
    start = datetime.now(UTC).replace(microsecond=0)
    await drive(target, seconds=8, ok=18, failed=2)
    await asyncio.sleep(2)  # the last scrapes
    end = datetime.now(UTC).replace(microsecond=0)
    spec = pulled(PrometheusSource(good=GOOD, total=ALL))
    definition = spec.definition("s", "acme", Scope.of("@acme/p", "1.0.0"))

    samples = await PrometheusMetrics(prometheus.url).read(definition, start, end, 1)

    good = sum(s.counts.good for s in samples)
    bad = sum(s.counts.bad for s in samples)
    # Differences of the counters between step boundaries: every request, exactly once.
    assert (good, bad) == (8 * 18, 8 * 2)
    assert all(start <= s.start < end for s in samples)
    windowed = PrometheusSource(
        good='sum(increase(plugin_requests_total{code="ok"}[{{window}}]))',
        total="sum(increase(plugin_requests_total[{{window}}]))",
    )
    definition = pulled(windowed).definition("s", "acme", Scope.of("@acme/p", "1.0.0"))
    templated = await PrometheusMetrics(prometheus.url).read(definition, start, end, 2)
    # A templated query counts each step itself (increase() extrapolates, so roughly).
    assert 100 <= sum(s.counts.total for s in templated) <= 240


async def test_histogram_quantile_is_judged_per_step(
    prometheus: PrometheusServer, target: Target
) -> None:
    """A p99 latency query gives one sample per step: good under the threshold, bad over it."""
    start = datetime.now(UTC).replace(microsecond=0)
    await drive(target, seconds=4, ok=10, failed=0, latency=0.05)
    await drive(target, seconds=4, ok=10, failed=0, latency=2.0)
    await asyncio.sleep(2)
    end = datetime.now(UTC).replace(microsecond=0)
    source = PrometheusSource(value=P99, op="lt", threshold=0.5)
    definition = pulled(source).definition("s", "acme", Scope.of("@acme/p", "1.0.0"))

    samples = await PrometheusMetrics(prometheus.url).read(definition, start, end, 2)

    verdicts = [s.counts.good == 1 for s in samples]
    assert True in verdicts
    assert False in verdicts
    assert verdicts.index(False) > verdicts.index(True)  # fast first, then slow


async def test_pulled_slo_violates_through_the_evaluator(
    prometheus: PrometheusServer, target: Target
) -> None:
    """A pulled SLI at 20% errors trips its tier, as the same outcomes pushed would."""
    store = MemoryStore(SystemClock())
    gauge = MemoryBurnRates()
    slo = await handlers.create_slo(
        store.uow_factory(),
        gauge,
        tenant_id="acme",
        plugin="@acme/p",
        version="1.0.0",
        spec=pulled(PrometheusSource(good=GOOD, total=ALL)),
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not store.sink.events:
        await drive(target, seconds=1, ok=8, failed=2)
        await pull.pull_all(
            store.uow_factory(), gauge, PrometheusMetrics(prometheus.url), lag_seconds=2
        )

    assert [e.tier for e, _ in store.sink.events] == ["custom"]  # type: ignore[attr-defined]
    assert store.state.slos[slo.slo_id].pulled_until is not None
    assert sum(c.total for c in store.bucket_counts(slo.slo_id).values()) > 0


async def test_a_bad_query_is_a_clear_error(prometheus: PrometheusServer) -> None:
    """Prometheus refusing a query surfaces as UNAVAILABLE naming the query."""
    spec = pulled(PrometheusSource(good="rate(", total=ALL))
    definition = spec.definition("s", "acme", Scope.of("@acme/p", "1.0.0"))
    now = datetime.now(UTC)
    with pytest.raises(PullError, match="refused") as raised:
        await PrometheusMetrics(prometheus.url).read(
            definition, now - timedelta(seconds=10), now, 1
        )
    assert raised.value.code == "UNAVAILABLE"


async def _pulled_in(
    admin_url: str, database: str, schema: str, tenants: list[str]
) -> dict[str, tuple[bool, int]]:
    """Per one of `tenants` with an SLO in this place: (pulled_until set, events counted)."""
    conn = await asyncpg.connect(database_url(admin_url, database))
    try:
        rows = await conn.fetch(
            f"""SELECT s.tenant_id, s.pulled_until IS NOT NULL AS pulled,
                       COALESCE(sum(b.good + b.bad), 0) AS events
                  FROM {schema}.slos s
                  LEFT JOIN {schema}.outcome_buckets b USING (slo_id, tenant_id)
                 WHERE s.tenant_id = ANY($1::text[])
                 GROUP BY s.tenant_id, s.pulled_until""",  # noqa: S608 - test names
            tenants,
        )
    finally:
        await conn.close()
    return {r["tenant_id"]: (r["pulled"], int(r["events"])) for r in rows}


async def test_pulled_slos_of_bridge_and_silo_tenants_are_stored_in_their_place(
    prometheus: PrometheusServer, target: Target, slo_db: Database, database_url: str
) -> None:
    """A pull over the shared tables reads the pool tenant's SLO only; the pass over every
    place reads the bridge and silo tenants' too, each one's steps stored in its place."""
    tiers = {unique_tenant(): tier for tier in Tier}
    pool, bridge, silo = tiers
    async with placed_tenants(database_url, {SERVICE: MIGRATIONS}, tiers) as placed:
        uow = pg_uow_factory(slo_db, SystemClock())
        gauge = MemoryBurnRates()
        for tenant in tiers:
            await handlers.create_slo(
                uow,
                gauge,
                tenant_id=tenant,
                plugin="@acme/p",
                version="1.0.0",
                spec=pulled(PrometheusSource(good=GOOD, total=ALL)),
            )
        main = database_url.rpartition("/")[2]
        places = {
            pool: (main, SERVICE),
            bridge: (main, placed[bridge].location),
            silo: (placed[silo].location, SERVICE),
        }
        source = PrometheusMetrics(prometheus.url)

        async def stored() -> dict[str, tuple[bool, int]]:
            found: dict[str, tuple[bool, int]] = {}
            for database, schema in places.values():
                found |= await _pulled_in(database_url, database, schema, list(tiers))
            return found

        await drive(target, seconds=3, ok=8, failed=2)
        await pull.pull_all(uow, gauge, source, lag_seconds=2)
        shared_only = await stored()
        assert shared_only[pool][0]
        assert (shared_only[bridge][0], shared_only[silo][0]) == (False, False)

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            await drive(target, seconds=1, ok=8, failed=2)
            await each_place(
                slo_db.places, lambda: pull.pull_all(uow, gauge, source, lag_seconds=2)
            )
            found = await stored()
            if all(pulled and events for pulled, events in found.values()):
                break

        # Each place holds its own tenant's SLO, read and counted, and no other's.
        for tenant, (database, schema) in places.items():
            in_place = await _pulled_in(database_url, database, schema, list(tiers))
            assert list(in_place) == [tenant], (tenant, in_place)
            pulled_until_set, events = in_place[tenant]
            assert pulled_until_set
            assert events > 0
