"""Who may set quotas, reserve them and record usage: the interceptor in front of `build`.

Quotas are a platform decision (quotas.write: platform-admin only); room in
them is reserved by Portico's own services (quotas.reserve: the `service`
role, or a platform admin), never by the tenant they limit; usage is not
reported by the tenant (usage.record), and is refused to everyone else too,
being derived. Tokens are signed by a test
key the interceptor's verifier trusts; every denial names the permission and
is recorded with the token's subject.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from joserfc import jwt
from joserfc.jwk import OKPKey

from portico.tenancy.v1 import quotas_pb2 as qpb
from portico.tenancy.v1 import quotas_pb2_grpc as qpb_grpc
from portico.tenancy.v1 import tenancy_pb2 as pb
from portico.tenancy.v1 import tenancy_pb2_grpc as pb_grpc
from portico_common.grpc.interceptor import PorticoServerInterceptor
from portico_common.grpc.registration import register_servicers
from portico_common.grpc.tokens import ALGORITHM, AUDIENCE, ISSUER, Claims, TokenVerifier
from portico_tenancy.testing import TenancyWorld

KEY = OKPKey.generate_key("Ed25519", parameters={"kid": "tenancy-test"})
LIMITS = pb.Resources(cpu_millicores=4000, memory_mib=8192, storage_mib=20480)


async def _jwks() -> dict[str, Any]:
    return {"keys": [KEY.as_dict(private=False)]}


def _token(subject: str, tenant: str, *roles: str) -> tuple[tuple[str, str]]:
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "tenant": tenant,
        "roles": list(roles),
        "exp": int(time.time()) + 300,
    }
    header = {"alg": ALGORITHM, "kid": "tenancy-test"}
    token = jwt.encode(header, claims, KEY, algorithms=[ALGORITHM])
    return (("authorization", f"Bearer {token}"),)


@dataclass
class Denials:
    recorded: list[tuple[str, str, str, str]] = field(default_factory=list)

    async def record(self, tenant_id: str, claims: Claims, method: str, permission: str) -> None:
        self.recorded.append((tenant_id, claims.subject, method.rsplit("/", 1)[-1], permission))


@dataclass
class Served:
    stub: pb_grpc.TenancyServiceAsyncStub
    denials: Denials
    reservations: qpb_grpc.QuotaReservationServiceAsyncStub


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    """tenancy as `build` wires it, behind the interceptor, with tenant acme created."""
    world = TenancyWorld()
    denials = Denials()
    server = grpc.aio.server(
        interceptors=[
            PorticoServerInterceptor(
                "tenancy", verifier=TokenVerifier(_jwks), idempotency=None, denials=denials
            )
        ]
    )
    register_servicers(server, world.components.servicers)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.TenancyServiceStub(channel)
            platform = _token("root", "*", "platform-admin")
            await stub.CreateTenant(pb.CreateTenantRequest(tenant_id="acme"), metadata=platform)
            yield Served(
                stub,  # type: ignore[arg-type]
                denials,
                qpb_grpc.QuotaReservationServiceStub(channel),  # type: ignore[arg-type]
            )
    finally:
        await server.stop(None)


async def _denied(call: Any) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
    return caught.value.details() or ""


@pytest.mark.parametrize(
    "roles", [(), ("tenant-admin",), ("release-manager", "security-approver"), ("service",)]
)
async def test_only_a_platform_admin_sets_a_quota(served: Served, roles: tuple[str, ...]) -> None:
    """Any other role, the tenant's own admin included, is refused quotas.write by name."""
    detail = await _denied(
        served.stub.SetQuota(
            pb.SetQuotaRequest(tenant_id="acme", limits=LIMITS, max_plugins=3),
            metadata=_token("acme-client", "acme", *roles),
        )
    )
    assert detail.startswith("missing permission 'quotas.write'")
    assert served.denials.recorded == [("acme", "acme-client", "SetQuota", "quotas.write")]
    set_by_platform = await served.stub.SetQuota(
        pb.SetQuotaRequest(tenant_id="acme", limits=LIMITS, max_plugins=3),
        metadata=_token("root", "*", "platform-admin"),
    )
    assert set_by_platform.quota.revision == 1


@pytest.mark.parametrize("roles", [(), ("tenant-admin",), ("developer", "viewer")])
async def test_a_tenant_cannot_report_its_own_usage(served: Served, roles: tuple[str, ...]) -> None:
    """RecordUsage with a tenant's token is refused usage.record and recorded as a denial."""
    detail = await _denied(
        served.stub.RecordUsage(
            pb.RecordUsageRequest(tenant_id="acme", plugins=0),
            metadata=_token("acme-client", "acme", *roles),
        )
    )
    assert detail.startswith("missing permission 'usage.record'")
    assert served.denials.recorded == [("acme", "acme-client", "RecordUsage", "usage.record")]


RESERVE = qpb.ReserveRequest(
    tenant_id="acme",
    reservation_id="install-1",
    kind=qpb.RESERVATION_KIND_INSTALL,
    plugin="left-pad",
    version="1.0.0",
    amounts=qpb.ReservedAmounts(plugins=1),
)


@pytest.mark.parametrize(
    ("subject", "tenant", "role"),
    [
        ("portico-security", "*", "service"),
        ("portico-security", "acme", "service"),
        ("root", "*", "platform-admin"),
    ],
)
async def test_a_service_identity_or_the_platform_reserves_quota(
    served: Served, subject: str, tenant: str, role: str
) -> None:
    """The `service` role (Portico's own identities) and platform admins may reserve and release."""
    held = await served.reservations.Reserve(RESERVE, metadata=_token(subject, tenant, role))
    assert held.reservation.state == qpb.RESERVATION_STATE_HELD
    released = await served.reservations.Release(
        qpb.ReleaseRequest(tenant_id="acme", reservation_id="install-1"),
        metadata=_token(subject, tenant, role),
    )
    assert released.reservation.state == qpb.RESERVATION_STATE_RELEASED
    assert served.denials.recorded == []


@pytest.mark.parametrize("roles", [(), ("tenant-admin",), ("developer", "viewer")])
async def test_a_tenant_cannot_reserve_or_release_its_own_quota(
    served: Served, roles: tuple[str, ...]
) -> None:
    """Reserve and Release with a tenant's token are refused quotas.reserve and recorded."""
    token = _token("acme-client", "acme", *roles)
    detail = await _denied(served.reservations.Reserve(RESERVE, metadata=token))
    assert detail.startswith("missing permission 'quotas.reserve'")
    await _denied(
        served.reservations.Release(
            qpb.ReleaseRequest(tenant_id="acme", reservation_id="install-1"), metadata=token
        )
    )
    assert [d[2:] for d in served.denials.recorded] == [
        ("Reserve", "quotas.reserve"),
        ("Release", "quotas.reserve"),
    ]


async def test_even_a_service_identity_cannot_report_usage(served: Served) -> None:
    """A service passes RecordUsage's permission check and is then refused: usage is derived."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await served.stub.RecordUsage(
            pb.RecordUsageRequest(tenant_id="acme", used=LIMITS, plugins=2),
            metadata=_token("portico-rollout", "*", "service"),
        )
    assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "derived" in (caught.value.details() or "")
    assert served.denials.recorded == []


async def test_a_tenant_admin_still_reads_its_quota_and_usage(served: Served) -> None:
    """Reading is quotas.read, which every tenant role holds through viewer."""
    platform = _token("root", "*", "platform-admin")
    await served.stub.SetQuota(
        pb.SetQuotaRequest(tenant_id="acme", limits=LIMITS, max_plugins=3), metadata=platform
    )
    got = await served.stub.GetQuota(
        pb.GetQuotaRequest(tenant_id="acme"), metadata=_token("acme-admin", "acme", "tenant-admin")
    )
    assert got.quota.max_plugins == 3
