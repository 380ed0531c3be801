"""The pull adapter against a real Prometheus (Debian's package) scraping a local test target."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from portico_common.clock import SystemClock
from portico_embedded.prometheus import PrometheusServer
from portico_slo.adapters.memory import MemoryBurnRates, MemoryStore
from portico_slo.adapters.prometheus import PrometheusMetrics
from portico_slo.app import handlers, pull
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
