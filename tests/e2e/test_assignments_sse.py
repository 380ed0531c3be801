"""WatchAssignments as a portal front end sees it: Server-Sent Events from the gateway.

rollout and the gateway run as their own processes (real PostgreSQL and NATS
JetStream); the test reads the gateway's event stream over HTTP while a
canary starts and is rolled back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import nats
import pytest

from portico.events.v1 import events_pb2 as ev
from portico.rollout.v1 import rollout_pb2 as pb
from portico.rollout.v1 import rollout_pb2_grpc as pb_grpc
from portico_common.events.bus import publish
from portico_common.events.catalog import type_of
from portico_common.events.envelope import Envelope
from portico_common.events.topology import owner_source
from portico_embedded.testing.databases import ServiceDatabaseUrl
from portico_embedded.testing.fixtures import unique
from portico_embedded.testing.services import ServiceProcess, infra_env, running_process

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PLUGIN = "@acme/plugin-cost-insights"
# The gateway's deadline on upstream calls: a watch ends cleanly a little before it.
DEADLINE_SECONDS = 4.0


@contextlib.asynccontextmanager
async def gateway_process(rollout: ServiceProcess, workdir: Path) -> AsyncIterator[str]:
    """`python -m portico_gateway` on a port it picks, in front of rollout; yields its URL."""
    ready = workdir / "gateway.ready.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}
    env |= {
        "PORTICO_GATEWAY_PORT": "0",
        "PORTICO_GATEWAY_READY_FILE": str(ready),
        "PORTICO_GATEWAY_ROLLOUT_TARGET": rollout.target,
        "PORTICO_GATEWAY_DEADLINE_SECONDS": str(DEADLINE_SECONDS),
    }
    with (workdir / "gateway.log").open("ab") as log:
        proc = await asyncio.to_thread(
            subprocess.Popen,
            [sys.executable, "-m", "portico_gateway"],
            env=env,
            stdout=log,
            stderr=log,
        )
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((workdir / "gateway.log").read_text())
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{json.loads(ready.read_text())['port']}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(proc.wait, 15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def events_of(response: httpx.Response) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """(event name, data) for each Server-Sent Event, as they arrive."""
    name, data = "message", ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = line.removeprefix("data: ")
        elif not line and data:
            yield name, json.loads(data)
            name, data = "message", ""


async def start_canary(target: str, nats_url: str, tenant: str) -> None:
    """RequestRollout over gRPC; both checks pass as the owners' events."""
    async with grpc.aio.insecure_channel(target) as channel:
        await pb_grpc.RolloutServiceStub(channel).RequestRollout(
            pb.RequestRolloutRequest(
                tenant_id=tenant, plugin=PLUGIN, version="2.3.0", phases=[100]
            ),
            timeout=10,
        )
    await emit(
        nats_url,
        tenant,
        ev.ArtifactVerified(tenant_id=tenant, plugin=PLUGIN, version="2.3.0"),
        ev.CompatChecked(tenant_id=tenant, plugin=PLUGIN, version="2.3.0", compatible=True),
    )


async def emit(nats_url: str, tenant: str, *payloads: Any) -> None:
    nc = await nats.connect(nats_url)
    try:
        for payload in payloads:
            source = owner_source(type_of(payload))
            await publish(nc.jetstream(), Envelope.of(payload, source=source, tenant_id=tenant))
    finally:
        await nc.close()


async def test_a_portal_follows_a_canary_and_its_rollback_over_sse(
    service_database_url: ServiceDatabaseUrl, nats_url: str, tmp_path: Path
) -> None:
    """The stream starts with the (empty) assignments, then pushes the canary and the rollback.

    It ends cleanly before the gateway's deadline, with no error event; the
    reconnect a browser's EventSource makes starts from the current state.
    """
    tenant = unique("t").replace("_", "-")
    url = f"/v1/tenants/{tenant}/assignments:watch"
    headers = {"Accept": "text/event-stream"}
    (tmp_path / "slo").mkdir()
    slo_env = infra_env(await service_database_url("slo"), nats_url, log_level="WARNING")
    async with (
        # A rollout is only requested once slo holds an SLO for its version.
        running_process("portico_slo", slo_env, tmp_path / "slo") as slo,
        running_process(
            "portico_rollout",
            infra_env(
                await service_database_url("rollout"),
                nats_url,
                log_level="WARNING",
                rollout_slo_target=slo.target,
            ),
            tmp_path / "rollout",
        ) as rollout,
        gateway_process(rollout, tmp_path) as base,
        httpx.AsyncClient(base_url=base, timeout=30) as http,
    ):
        seen: list[tuple[str, dict[str, Any]]] = []
        violated = False
        started = time.monotonic()
        async with http.stream("GET", url, headers=headers) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            async for name, data in events_of(response):
                seen.append((name, data))
                if len(seen) == 1:
                    assert (name, data) == ("message", {"snapshot": True, "assignments": []})
                    await start_canary(rollout.target, nats_url, tenant)
                elif not violated and any(
                    a.get("percent") == 100 for a in data.get("assignments", [])
                ):
                    violated = True
                    violation = ev.SloViolated(
                        tenant_id=tenant, slo_id="s", plugin=PLUGIN, version="2.3.0", rule="r"
                    )
                    await emit(nats_url, tenant, violation)
        ended = time.monotonic() - started
        names = [name for name, _ in seen]
        assert "error" not in names
        assert ended < DEADLINE_SECONDS
        assignments = [a for _, d in seen for a in d.get("assignments", [])]
        canary = next(a for a in assignments if a.get("percent") == 100)
        assert (canary["plugin"], canary["canaryVersion"], canary["state"]) == (
            PLUGIN,
            "2.3.0",
            "ROLLOUT_STATE_IN_PROGRESS",
        )
        # Nothing was stable before: rolled back, the plugin is not installed for anyone.
        assert assignments[-1] == {
            "tenantId": tenant,
            "plugin": PLUGIN,
            "stableVersion": "",
            "rolloutId": "",
            "canaryVersion": "",
            "state": "ROLLOUT_STATE_UNSPECIFIED",
            "percent": 0,
        }

        async with http.stream("GET", url, headers=headers) as again:
            name, snapshot = await anext(aiter(events_of(again)))
        assert (name, snapshot) == ("message", {"snapshot": True, "assignments": []})
