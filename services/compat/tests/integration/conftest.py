"""The compat service as a real process on real PostgreSQL and NATS JetStream."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from portico.compat.v1 import compat_pb2_grpc as pb_grpc
from portico_common.events.bus import connect
from portico_common.events.catalog import STREAM, subject_for
from portico_common.events.envelope import Envelope
from portico_embedded.processes import free_port

SUBJECT = subject_for("plugin.compat.checked")
START_TIMEOUT = 60.0
EVENT_TIMEOUT = 15.0


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
    database_url: str
    #: host:port of the service's gRPC server (for a gateway in front of it).
    target: str = ""

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


async def _wait_until_serving(proc: asyncio.subprocess.Process, target: str, log: Path) -> None:
    # Reading the small log file only on the way to a failure; blocking is harmless there.
    deadline = time.monotonic() + START_TIMEOUT
    async with grpc.aio.insecure_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                pytest.fail(f"compat exited with {proc.returncode}:\n{log.read_text()}")  # noqa: ASYNC240
            with contextlib.suppress(grpc.aio.AioRpcError):
                reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            await asyncio.sleep(0.1)
    pytest.fail(f"compat not serving within {START_TIMEOUT}s:\n{log.read_text()}")  # noqa: ASYNC240


@pytest.fixture
async def compat(database_url: str, nats_url: str, tmp_path: Path) -> AsyncIterator[RunningCompat]:
    """The service process; at teardown it must stop cleanly on SIGTERM."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}
    env |= {
        "PORTICO_DATABASE_URL": database_url,
        "PORTICO_NATS_URL": nats_url,
        "PORTICO_GRPC_PORT": str(port),
        "PORTICO_METRICS_PORT": "0",
    }
    log = tmp_path / "compat.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "portico_compat", env=env, stdout=out, stderr=subprocess.STDOUT
        )
    nc: NatsClient | None = None
    try:
        target = f"127.0.0.1:{port}"
        await _wait_until_serving(proc, target, log)
        nc = await connect(nats_url, "compat-tests")
        async with grpc.aio.insecure_channel(target) as channel:
            yield RunningCompat(
                pb_grpc.CompatServiceStub(channel), nc.jetstream(), database_url, target
            )
    finally:
        if nc is not None:
            await nc.close()
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout=30)
            except TimeoutError:
                proc.kill()
                await proc.wait()
    assert proc.returncode == 0, f"compat did not stop cleanly:\n{log.read_text()}"
