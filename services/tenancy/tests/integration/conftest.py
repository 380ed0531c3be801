"""Tenancy running in this process on real PostgreSQL and JetStream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import nats
import pytest
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from pydantic import SecretStr

from portico.tenancy.v1 import tenancy_pb2_grpc as pb_grpc
from portico_common.events.catalog import STREAM, subject_for
from portico_common.events.envelope import Envelope
from portico_embedded.testing.databases import ServiceDatabaseUrl, migrated_database
from portico_embedded.testing.fixtures import unique
from portico_embedded.testing.services import serving_in_process
from portico_tenancy.bootstrap import MIGRATIONS, SERVICE, run
from portico_tenancy.settings import TenancySettings


@dataclass
class RunningTenancy:
    """A gRPC stub on the running service, and a reader of the tenant events it publishes."""

    stub: pb_grpc.TenancyServiceAsyncStub
    events: JetStreamContext.PullSubscription

    async def next_event(self, wait: float = 15.0) -> tuple[Envelope, dict[str, str]]:
        """The next tenant.* event on JetStream, decoded, with its NATS headers."""
        (msg,) = await self.events.fetch(1, timeout=wait)
        await msg.ack()
        headers = dict(msg.headers or {})
        return Envelope.decode(headers, msg.data), headers


@pytest.fixture
async def tenancy(
    service_database_url: ServiceDatabaseUrl, nats_url: str
) -> AsyncIterator[RunningTenancy]:
    """Tenancy's real `run` in this process, token checks off, on a port it chose itself."""
    settings = TenancySettings.model_validate(
        {
            "database_url": SecretStr(await service_database_url(SERVICE)),
            "nats_url": nats_url,
            "grpc_port": 0,
            "metrics_port": -1,
            "auth_target": "",
        }
    )
    async with serving_in_process(run, settings) as port:
        nc = await nats.connect(nats_url)
        events = await nc.jetstream().pull_subscribe(
            subject_for("tenant.>"),
            durable=unique("watch"),
            stream=STREAM,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
        )
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        try:
            yield RunningTenancy(pb_grpc.TenancyServiceStub(channel), events)
        finally:
            await channel.close(grace=None)
            await nc.close()


# Tenancy's migrated, empty schema and a pool on it (no NATS, no service).
tenancy_db = migrated_database(SERVICE, MIGRATIONS, name="tenancy_db")
