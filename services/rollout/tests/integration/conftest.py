"""Fixtures for rollout's integration tests: real PostgreSQL and JetStream, rollout in-process.

`rollout_service` runs the real bootstrap (`serve`: gRPC with the kernel's
interceptor, both durable consumers, the outbox relay, the scheduler) on a
ManualClock and yields a RolloutDriver.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

import grpc
import nats
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy
from pydantic import SecretStr

from portico.rollout.v1 import rollout_pb2_grpc as pb_grpc
from portico_common.clock import ManualClock
from portico_common.db import Database, create_pool
from portico_common.events.catalog import STREAM, subject_for
from portico_embedded.testing.databases import ServiceDatabaseUrl, migrated_database
from portico_embedded.testing.fixtures import unique, unique_tenant
from portico_embedded.testing.services import serving_in_process
from portico_rollout.adapters.advisories_memory import MemoryAdvisories
from portico_rollout.adapters.compat_memory import MemoryDependencyGraph
from portico_rollout.adapters.slo_memory import MemorySlo
from portico_rollout.bootstrap import MIGRATIONS, SERVICE, run
from portico_rollout.settings import RolloutSettings
from portico_rollout.testing.driver import T0, RolloutDriver, Watch


@pytest.fixture
async def settings(
    service_database_url: ServiceDatabaseUrl, nats_url: str
) -> Callable[..., RolloutSettings]:
    """Settings for an in-process rollout on port 0, connecting as rollout's own role."""
    url = await service_database_url(SERVICE)

    def make(**changes: object) -> RolloutSettings:
        values: dict[str, object] = {
            "database_url": SecretStr(url),
            "nats_url": nats_url,
            "grpc_port": 0,
            "metrics_port": -1,
            "auth_target": "",
            "max_deliver": 3,
            "rollout_tick_seconds": 0.02,
            "rollout_default_bake_seconds": 600,
        }
        values.update(changes)
        return RolloutSettings.model_validate(values)

    return make


@contextlib.asynccontextmanager
async def serving_rollout(
    settings: RolloutSettings,
    database_url: str,
    nats_url: str,
    *,
    clock: ManualClock,
    slo: MemorySlo,
    graph: MemoryDependencyGraph,
    advisories: MemoryAdvisories,
) -> AsyncIterator[RolloutDriver]:
    """The rollout service running in this process until the block ends, and its driver.

    A test that restarts the service enters it again with the same settings.
    """
    async with serving_in_process(
        run, settings, clock=clock, slo=slo, graph=graph, advisories=advisories
    ) as port:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        watcher = await js.pull_subscribe(
            subject_for("rollout.>"),
            durable=unique("watch"),
            stream=STREAM,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
        )
        # The driver reads as the database's administrator, behind row-level security.
        pool = await create_pool(database_url, SERVICE, max_size=4)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        try:
            yield RolloutDriver(
                port=port,
                clock=clock,
                stub=pb_grpc.RolloutServiceStub(channel),
                nc=nc,
                js=js,
                pool=pool,
                db=Database(pool, SERVICE, platform=pool),
                watch=Watch(watcher),
                slo=slo,
                graph=graph,
                advisories=advisories,
            )
        finally:
            await channel.close(grace=None)
            await pool.close()
            await nc.close()


StartRollout = Callable[..., contextlib.AbstractAsyncContextManager[RolloutDriver]]


@pytest.fixture
def start_rollout(
    settings: Callable[..., RolloutSettings], database_url: str, nats_url: str
) -> StartRollout:
    """Runs the service in-process on the test's database and NATS, as often as the test
    enters it: `async with start_rollout(clock=..., graph=...) as svc:` (a restart is a
    second block). Neighbours not given are new in-memory ones; the clock starts at T0."""

    def start(
        *,
        clock: ManualClock | None = None,
        slo: MemorySlo | None = None,
        graph: MemoryDependencyGraph | None = None,
        advisories: MemoryAdvisories | None = None,
    ) -> contextlib.AbstractAsyncContextManager[RolloutDriver]:
        return serving_rollout(
            settings(),
            database_url,
            nats_url,
            clock=clock or ManualClock(T0),
            slo=slo or MemorySlo(),
            graph=graph or MemoryDependencyGraph(),
            advisories=advisories or MemoryAdvisories(),
        )

    return start


@pytest.fixture
async def rollout_service(start_rollout: StartRollout) -> AsyncIterator[RolloutDriver]:
    """The rollout service running in this process on a ManualClock set to T0.

    Its slo, dependency graph and advisories are in-memory ones the driver holds
    (`svc.slo`, `svc.graph`, `svc.advisories`).
    """
    async with start_rollout() as driver:
        yield driver


# Rollout's migrated, empty schema and a pool on it (no NATS, no service).
rollout_db = migrated_database(SERVICE, MIGRATIONS, name="rollout_db")


@pytest.fixture
def new_tenant() -> Callable[[], str]:
    """Makes tenant ids no other test uses."""
    return unique_tenant
