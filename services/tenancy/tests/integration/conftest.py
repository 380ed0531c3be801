"""Tenancy running in this process on real PostgreSQL and JetStream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import nats
import pytest
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from pydantic import SecretStr

from portico.tenancy.v1 import tenancy_pb2_grpc as pb_grpc
from portico_common.events.catalog import STREAM, subject_for
from portico_common.events.envelope import Envelope
from portico_embedded.testing.fixtures import unique
from portico_tenancy.bootstrap import run
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
async def tenancy(database_url: str, nats_url: str) -> AsyncIterator[RunningTenancy]:
    settings = TenancySettings.model_validate(
        {
            "database_url": SecretStr(database_url),
            "nats_url": nats_url,
            "grpc_port": 0,
            "metrics_port": -1,
            "auth_target": "",
        }
    )
    stop = asyncio.Event()
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(run(settings, ready=bound.set_result, stop=stop))
    waiting: list[asyncio.Future[Any]] = [server, bound]
    done, _ = await asyncio.wait(waiting, timeout=60, return_when="FIRST_COMPLETED")
    if server in done:
        server.result()
    nc = await nats.connect(nats_url)
    events = await nc.jetstream().pull_subscribe(
        subject_for("tenant.>"),
        durable=unique("watch"),
        stream=STREAM,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
    )
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{bound.result()}")
    try:
        yield RunningTenancy(pb_grpc.TenancyServiceStub(channel), events)
    finally:
        await channel.close(grace=None)
        await nc.close()
        stop.set()
        await asyncio.wait_for(server, 30)
