"""Fixtures for the slo integration tests: a migrated database, and the service as a process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from portico.slo.v1 import slo_pb2_grpc
from portico_embedded.testing.databases import ServiceDatabaseUrl, migrated_database
from portico_embedded.testing.services import ServiceProcess, infra_env, running_process
from portico_slo.bootstrap import MIGRATIONS, SERVICE

SERVICE_NAME = "portico.slo.v1.SloService"

# The slo schema migrated into a fresh database, with a pool on it.
slo_db = migrated_database(SERVICE, MIGRATIONS, name="slo_db")


@dataclass
class SloProcess:
    """`python -m portico_slo` running against the test's NATS and PostgreSQL."""

    process: ServiceProcess
    # Typing only: on an aio channel the stub's calls are awaitable.
    stub: slo_pb2_grpc.SloServiceAsyncStub

    @property
    def target(self) -> str:
        return self.process.target

    def output(self) -> str:
        return self.process.output()


@pytest.fixture
async def slo_service(
    service_database_url: ServiceDatabaseUrl, nats_url: str, tmp_path: Path
) -> AsyncIterator[SloProcess]:
    """The slo service as its own process, without token checks, serving gRPC.

    It binds a port of its own choosing and reports it in its ready file;
    leaving the fixture sends SIGTERM and fails the test unless it exits 0.
    """
    env = infra_env(await service_database_url("slo"), nats_url)
    async with (
        running_process("portico_slo", env, tmp_path, health_service=SERVICE_NAME) as process,
        grpc.aio.insecure_channel(process.target) as channel,
    ):
        yield SloProcess(process, slo_pb2_grpc.SloServiceStub(channel))
