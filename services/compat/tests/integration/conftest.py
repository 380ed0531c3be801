"""The compat service as a real process on real PostgreSQL and NATS JetStream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from portico.compat.v1 import compat_pb2_grpc as pb_grpc
from portico_common.events.bus import connect
from portico_common.events.catalog import STREAM, subject_for
from portico_common.events.envelope import Envelope
from portico_compat.bootstrap import MIGRATIONS, SERVICE
from portico_embedded.testing.databases import ServiceDatabaseUrl, migrated_database
from portico_embedded.testing.services import infra_env, running_process

SUBJECT = subject_for("plugin.compat.checked")
EVENT_TIMEOUT = 15.0

compat_db = migrated_database(SERVICE, MIGRATIONS, name="compat_db", max_size=4)


@dataclass(frozen=True)
class Published:
    """One message as JetStream stored it, and its decoded CloudEvent."""

    subject: str
    headers: dict[str, str]
    envelope: Envelope


@dataclass
class RunningCompat:
    """A started `python -m portico_compat` and clients of its gRPC API and event stream."""

    stub: pb_grpc.CompatServiceAsyncStub
    js: JetStreamContext
    #: The database as its administrator, for assertions behind row-level security.
    database_url: str
    #: host:port of the service's gRPC server (for a gateway in front of it).
    target: str = ""
    #: The database as compat's own role, as the service connects.
    service_url: str = ""

    async def compat_events(self, count: int) -> list[Published]:
        """Waits until `count` compat events are on the stream; returns all of them."""
        deadline = time.monotonic() + EVENT_TIMEOUT
        while True:
            found = await self._stored()
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} of {count} compat events in {EVENT_TIMEOUT}s")
            await asyncio.sleep(0.05)

    async def _stored(self) -> list[Published]:
        try:
            info = await self.js.stream_info(STREAM)
        except NotFoundError:
            return []
        if info.state.messages == 0:
            return []
        found = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await self.js.get_msg(STREAM, seq)
            if msg.subject == SUBJECT:
                headers = dict(msg.headers or {})
                found.append(Published(SUBJECT, headers, Envelope.decode(headers, msg.data or b"")))
        return found


@pytest.fixture
async def compat(
    database_url: str,
    service_database_url: ServiceDatabaseUrl,
    nats_url: str,
    tmp_path: Path,
) -> AsyncIterator[RunningCompat]:
    """The service process on port 0; at teardown it must stop cleanly on SIGTERM."""
    url = await service_database_url("compat")
    async with running_process("portico_compat", infra_env(url, nats_url), tmp_path) as service:
        nc = await connect(nats_url, "compat-tests")
        try:
            async with grpc.aio.insecure_channel(service.target) as channel:
                yield RunningCompat(
                    pb_grpc.CompatServiceStub(channel),
                    nc.jetstream(),
                    database_url,
                    service.target,
                    service_url=url,
                )
        finally:
            await nc.close()
