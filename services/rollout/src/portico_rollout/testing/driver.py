"""Drive a running rollout service as its neighbours do: gRPC in, CloudEvents in and out.

Used by rollout's integration tests (and available to suite-wide tests):
`RolloutDriver` talks to the service over gRPC, publishes real CloudEvents on
JetStream, watches what the service publishes, and reads its rows.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
import nats
from google.protobuf.message import Message
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from portico.rollout.v1 import rollout_pb2 as pb
from portico.rollout.v1 import rollout_pb2_grpc as pb_grpc
from portico_common.clock import ManualClock
from portico_common.db import Database
from portico_common.events.bus import publish
from portico_common.events.catalog import type_of
from portico_common.events.envelope import Envelope
from portico_common.events.topology import owner_source
from portico_rollout.adapters.advisories_memory import MemoryAdvisories
from portico_rollout.adapters.compat_memory import MemoryDependencyGraph
from portico_rollout.adapters.slo_memory import MemorySlo

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def eventually(probe: Callable[[], object], within: float = 10.0) -> None:
    """Waits until `await probe()` is truthy."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = probe()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within}s: {probe}")
        await asyncio.sleep(0.02)


@dataclass
class Watch:
    """Collects every rollout.* event published on JetStream, from the start of the stream."""

    sub: JetStreamContext.PullSubscription
    seen: list[Msg] = field(default_factory=list)

    async def poll(self) -> list[Msg]:
        with contextlib.suppress(TimeoutError, nats.errors.TimeoutError):
            for msg in await self.sub.fetch(100, timeout=0.05):
                await msg.ack()
                self.seen.append(msg)
        return self.seen

    def of(self, event_type: str) -> list[Envelope]:
        return [
            Envelope.decode(m.headers, m.data)
            for m in self.seen
            if (m.headers or {}).get("ce-type") == event_type
        ]

    async def wait_for(
        self, event_type: str, count: int = 1, within: float = 10.0
    ) -> list[Envelope]:
        async def enough() -> bool:
            await self.poll()
            return len(self.of(event_type)) >= count

        await eventually(enough, within)
        return self.of(event_type)


@dataclass
class RolloutDriver:
    """What a test uses to talk to the running service and look at its state."""

    port: int
    clock: ManualClock
    stub: pb_grpc.RolloutServiceAsyncStub
    nc: NatsClient
    js: JetStreamContext
    pool: asyncpg.Pool
    db: Database
    watch: Watch
    # The slo the service asks (SLOs ensured, outcomes of versions), in this process.
    slo: MemorySlo = field(default_factory=MemorySlo)
    # The dependency graph the rollback saga asks, in this process.
    graph: MemoryDependencyGraph = field(default_factory=MemoryDependencyGraph)
    # security's advisories as the service reads them, in this process.
    advisories: MemoryAdvisories = field(default_factory=MemoryAdvisories)

    async def send(
        self,
        payload: Message,
        *,
        tenant: str,
        time: datetime | None = None,
        msg_id: str | None = None,
    ) -> Envelope:
        """Publishes a real CloudEvent; `msg_id` overrides Nats-Msg-Id to defeat JetStream dedup."""
        envelope = Envelope.of(
            payload,
            source=owner_source(type_of(payload)),
            tenant_id=tenant,
            time=time or self.clock.now(),
        )
        if msg_id is None:
            await publish(self.js, envelope)
        else:
            await self.resend(envelope, msg_id)
        return envelope

    async def resend(self, envelope: Envelope, msg_id: str) -> None:
        """The same CloudEvent (same ce-id) again, as a different JetStream message."""
        headers = {**envelope.headers(), "Nats-Msg-Id": msg_id}
        await self.js.publish(envelope.nats_subject, envelope.body(), headers=headers, timeout=5)

    async def request(
        self,
        tenant_id: str,
        plugin: str,
        version: str,
        *,
        bake_seconds: int = 0,
        phases: Sequence[int] = (),
    ) -> pb.Rollout:
        """RequestRollout over gRPC; returns the rollout it answered with."""
        response = await self.stub.RequestRollout(
            pb.RequestRolloutRequest(
                tenant_id=tenant_id,
                plugin=plugin,
                version=version,
                bake_seconds=bake_seconds,
                phases=list(phases),
            ),
            timeout=10,
        )
        return response.rollout

    async def get(self, tenant_id: str, rollout_id: str) -> pb.Rollout:
        response = await self.stub.GetRollout(
            pb.GetRolloutRequest(tenant_id=tenant_id, rollout_id=rollout_id), timeout=10
        )
        return response.rollout

    async def resolve(self, tenant_id: str, plugin: str, user_id: str) -> pb.ResolveVersionResponse:
        """ResolveVersion over gRPC (answered from the service's in-memory view)."""
        return await self.stub.ResolveVersion(
            pb.ResolveVersionRequest(tenant_id=tenant_id, user_id=user_id, plugin=plugin),
            timeout=10,
        )

    async def resolves_at(
        self, tenant_id: str, plugin: str, percent: int, *, rollout_id: str | None = None
    ) -> bool:
        """Whether resolves of the plugin now report this canary share (and rollout id)."""
        answer = await self.resolve(tenant_id, plugin, "probe")
        return answer.percent == percent and rollout_id in (None, answer.rollout_id)

    @staticmethod
    async def eventually(probe: Callable[[], object], within: float = 10.0) -> None:
        await eventually(probe, within)

    async def rows(self, sql: str, *args: object) -> list[asyncpg.Record]:
        """Reads as the database's administrator (bypassing RLS), for assertions only."""
        async with self.pool.acquire() as conn:
            return list(await conn.fetch(sql, *args))
