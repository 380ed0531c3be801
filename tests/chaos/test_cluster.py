"""A three-node JetStream cluster on loopback, R3 streams, the streams' leader killed mid-flow.

The suite runs on a NATS cluster of its own (`portico_embedded.nats.NatsCluster`:
three members routed to each other, a store each); every service is given
all three members and creates the streams with three replicas
(PORTICO_NATS_STREAM_REPLICAS=3). In the middle of a canary the member
leading the event stream is SIGKILLed and stays down: the other two elect a
new leader, the services reconnect to them, the canary completes and the next
one is rolled back, and the books balance (no event lost, none twice). The
member then comes back and catches up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from portico_common.events.catalog import STREAM
from portico_embedded.nats import NatsCluster
from portico_embedded.testing.fixtures import unique_tenant

from .flows import audit, prepared, rollback
from .report import Report
from .stack import Suite, books_of

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@dataclass(frozen=True)
class Clustered:
    cluster: NatsCluster
    suite: Suite


@pytest.fixture(scope="module")
def clustered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clustered]:
    """`portico up` on a three-node NATS cluster of its own; it must stop cleanly."""
    home = tmp_path_factory.mktemp("cluster")
    cluster = NatsCluster(home / "nats").start()
    try:
        suite = Suite.start(
            home, {"PORTICO_NATS_URL": cluster.url, "PORTICO_NATS_STREAM_REPLICAS": "3"}
        )
        try:
            yield Clustered(cluster, suite)
        finally:
            code = suite.stop()
        assert code == 0, suite.output()[-6000:]
    finally:
        cluster.stop()


async def test_the_stream_leader_killed_mid_canary_loses_no_event_and_repeats_none(
    clustered: Clustered, chaos_report: Report
) -> None:
    """Two members of three carry on; the flow completes and every count balances."""
    cluster, suite = clustered.cluster, clustered.suite
    tenant = unique_tenant()
    killed: list[str] = []
    async with books_of(suite, cluster.url) as (ledger, admin):
        nc = await suite.nats(cluster.url)
        js = nc.jetstream()
        try:
            placed = (await js.stream_info(STREAM)).cluster
            assert placed is not None
            assert len(placed.replicas or []) == 2, placed

            async def disrupt() -> None:
                info = (await js.stream_info(STREAM)).cluster
                assert info is not None
                assert info.leader
                cluster.member(info.leader).kill()
                killed.append(info.leader)

            mark = await ledger.mark()
            started = time.monotonic()
            portal = await prepared(suite, tenant)
            try:
                expected = await rollback(portal, disrupt, admin, canary_first=True)
            finally:
                await portal.close()
            books = await audit(expected, ledger, mark, tenant, admin)
            seconds = time.monotonic() - started
            after = (await js.stream_info(STREAM)).cluster
            assert after is not None
            assert after.leader not in (None, killed[0]), after
            # The member comes back on its store and catches up with the other two.
            gone = cluster.member(killed[0])
            await asyncio.to_thread(gone.start)
            await asyncio.to_thread(cluster.wait_formed, 60.0)
        finally:
            await nc.close()
    chaos_report.add(
        f"canary + rollback, R3 leader {killed[0]} killed",
        seconds,
        f"{books.summary()}; new leader {after.leader}",
    )
