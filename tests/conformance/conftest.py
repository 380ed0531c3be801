"""One running security service per test module, for the corpora over gRPC.

`security_grpc` starts `python -m portico_security` once per module (a
fresh database and JetStream server), trusting the npm corpus's Sigstore
public-good root and npm registry keys, so a whole corpus runs against one
process; on teardown the process must exit 0 on SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from portico_embedded.nats import NatsServer
from portico_embedded.processes import free_port
from portico_embedded.testing.fixtures import unique

from .corpora import NPM_PROVENANCE


def _admin(postgres_server: str, sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(postgres_server)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(run())
    finally:
        loop.close()


def _wait_serving(target: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    with grpc.insecure_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"security exited with {proc.returncode}:\n{log.read_text()}")
            try:
                status = health.Check(health_pb2.HealthCheckRequest(), timeout=1).status
            except grpc.RpcError:
                status = None
            if status == health_pb2.HealthCheckResponse.SERVING:
                return
            time.sleep(0.1)
    pytest.fail(f"security did not report SERVING within 60s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def security_database(postgres_server: str) -> Iterator[str]:
    """A fresh database for the module's one service process; dropped afterwards."""
    name = unique("conf")
    _admin(postgres_server, f'CREATE DATABASE "{name}"')
    base, _, _ = postgres_server.rpartition("/")
    yield f"{base}/{name}"
    _admin(postgres_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def security_grpc(
    security_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`host:port` of one security process serving the whole module."""
    base = tmp_path_factory.mktemp("security")
    external_nats = os.environ.get("PORTICO_TEST_NATS_URL")
    nats = None if external_nats else NatsServer(base / "nats").start()
    target = f"127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}
    env.update(
        PORTICO_DATABASE_URL=security_database,
        PORTICO_NATS_URL=external_nats or (nats.url if nats else ""),
        PORTICO_GRPC_PORT=target.rsplit(":", 1)[1],
        PORTICO_METRICS_PORT="0",
        PORTICO_SHUTDOWN_GRACE_SECONDS="5",
        PORTICO_PROVENANCE_TRUSTED_ROOT=str(
            NPM_PROVENANCE / "sigstore-public-good-trusted-root.json"
        ),
        PORTICO_PROVENANCE_NPM_KEYS=str(NPM_PROVENANCE / "npm-registry-keys.json"),
    )
    log = base / "security.log"
    try:
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "portico_security"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_serving(target, proc, log)
            yield target
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        assert proc.returncode == 0, f"unclean shutdown ({proc.returncode}):\n{log.read_text()}"
    finally:
        if nats is not None:
            nats.stop()
