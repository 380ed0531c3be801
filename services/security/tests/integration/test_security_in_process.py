"""The service's real `run`, in this process on a ManualClock: the approval deadline job reads
the injected clock, so hours of waiting take no time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from pydantic import SecretStr

from portico.security.v1 import install_pb2 as ipb
from portico.security.v1 import install_pb2_grpc as ipb_grpc
from portico.security.v1 import security_pb2 as pb
from portico.security.v1 import security_pb2_grpc as pb_grpc
from portico_common.clock import ManualClock
from portico_embedded.testing.databases import ServiceDatabaseUrl
from portico_embedded.testing.services import serving_in_process
from portico_security.bootstrap import run
from portico_security.settings import SecuritySettings
from portico_security.testing.artifacts import Publisher

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PLUGIN = "@acme/plugin-cost-insights"


async def test_an_approval_expires_when_the_injected_clock_passes_its_deadline(
    service_database_url: ServiceDatabaseUrl,
    nats_url: str,
    eventually: Callable[..., Awaitable[Any]],
) -> None:
    """A pending install with a one-hour deadline expires as soon as the ManualClock given to
    `run` moves past it, and stays pending until then."""
    clock = ManualClock(T0)
    settings = SecuritySettings(
        database_url=SecretStr(await service_database_url("security")),
        nats_url=nats_url,
        grpc_port=0,
        metrics_port=-1,
        install_approval_tick_seconds=0.05,
    )
    publisher = Publisher(name="acme", key_id="acme-2026")
    artifact = publisher.publish(PLUGIN, "1.0.0")
    async with (
        serving_in_process(run, settings, clock=clock) as port,
        grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):
        security = pb_grpc.SecurityServiceStub(channel)
        install = ipb_grpc.InstallServiceStub(channel)  # type: ignore[misc]
        await security.RegisterPublisherKey(
            pb.RegisterPublisherKeyRequest(
                tenant_id="acme",
                publisher=publisher.name,
                key_id=publisher.key_id,
                algorithm=pb.KEY_ALGORITHM_ED25519,
                public_key_pem=publisher.public_key_pem,
            ),
            timeout=10,
        )
        await install.SetInstallPolicy(
            ipb.SetInstallPolicyRequest(
                tenant_id="acme",
                actor="admin",
                reason="every install is reviewed",
                policy=ipb.InstallPolicy(
                    approval_below_score=100,
                    max_artifact_bytes=1 << 20,
                    approval=ipb.ApprovalRule(
                        required=1, roles=["security-reviewer"], timeout_seconds=3600
                    ),
                ),
            ),
            timeout=10,
        )
        response = await install.InstallSecure(
            ipb.InstallSecureRequest(
                tenant_id="acme",
                plugin=artifact.plugin,
                version=artifact.version,
                tarball=artifact.tarball,
                integrity=artifact.integrity,
                signature=artifact.signature,
                key_id=artifact.key_id,
                requested_by="bob",
            ),
            timeout=30,
        )
        request_id = response.request.request_id
        assert response.request.status == ipb.INSTALL_STATUS_PENDING_APPROVAL

        async def status() -> int:
            found = await install.GetInstallRequest(
                ipb.GetInstallRequestRequest(tenant_id="acme", request_id=request_id), timeout=10
            )
            return int(found.request.status)

        clock.advance(3599)
        assert await status() == ipb.INSTALL_STATUS_PENDING_APPROVAL
        clock.advance(1)

        async def expired() -> bool | None:
            return True if await status() == ipb.INSTALL_STATUS_EXPIRED else None

        assert await eventually(expired, what="the approval's expiry")
