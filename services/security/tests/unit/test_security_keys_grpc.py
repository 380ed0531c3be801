"""PublisherKeyService and VerifyArtifact's lifecycle fields as `build` wires them, behind the
kernel's interceptor, over in-memory adapters: request mapping and error codes. (The gateway
routes they get are checked in tests/e2e, where the gateway may be imported.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, timedelta

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration

from portico.security.v1 import keys_pb2 as kpb
from portico.security.v1 import keys_pb2_grpc
from portico.security.v1 import security_pb2 as pb
from portico.security.v1 import security_pb2_grpc as pb_grpc
from portico_common.clock import ManualClock
from portico_common.timestamps import to_timestamp
from portico_security.bootstrap import build
from portico_security.testing.artifacts import Publisher
from portico_security.testing.world import MemoryWorld, loopback
from portico_security.verification.domain.verification import CheckName
from portico_security.verification.entrypoints.mapping import algorithm_from_proto

from .conftest import T0

PLUGIN = "@acme/plugin-cost-insights"

Stubs = tuple["pb_grpc.SecurityServiceAsyncStub", "keys_pb2_grpc.PublisherKeyServiceAsyncStub"]


@pytest.fixture
async def stubs(world: MemoryWorld) -> AsyncIterator[Stubs]:
    async with loopback(build(world.dependencies(max_artifact_bytes=1024 * 1024))) as channel:
        yield (
            pb_grpc.SecurityServiceStub(channel),
            keys_pb2_grpc.PublisherKeyServiceStub(channel),
        )


async def register(stub: pb_grpc.SecurityServiceAsyncStub, publisher: Publisher) -> None:
    await stub.RegisterPublisherKey(
        pb.RegisterPublisherKeyRequest(
            tenant_id="acme",
            publisher=publisher.name,
            key_id=publisher.key_id,
            algorithm=pb.KEY_ALGORITHM_ED25519,
            public_key_pem=publisher.public_key_pem,
            expires_at=to_timestamp(T0 + timedelta(days=30)),
        )
    )


def test_ecdsa_p256_maps_to_the_domain_algorithm() -> None:
    """The wire's ECDSA P-256 value is the domain's 'ecdsa-p256'."""
    assert algorithm_from_proto(pb.KEY_ALGORITHM_ECDSA_P256) == "ecdsa-p256"


async def test_expiry_round_trips_and_publish_time_is_honoured(
    stubs: Stubs, clock: ManualClock
) -> None:
    """A key registered with an expiry shows it, and VerifyArtifact judges expiry at the
    request's published_at rather than at the verification time."""
    security, keys = stubs
    publisher = Publisher(name="acme", key_id="acme-2026")
    await register(security, publisher)
    listed = await keys.ListPublisherKeys(kpb.ListPublisherKeysRequest(tenant_id="acme"))
    assert listed.keys[0].expires_at.ToDatetime(tzinfo=UTC) == T0 + timedelta(days=30)
    clock.advance(days=60)
    artifact = publisher.publish(PLUGIN, "1.0.0")
    request = pb.VerifyArtifactRequest(
        tenant_id="acme",
        plugin=PLUGIN,
        version="1.0.0",
        tarball=artifact.tarball,
        integrity=artifact.integrity,
        signature=artifact.signature,
        key_id=artifact.key_id,
    )
    late = await security.VerifyArtifact(request)
    assert late.verdict == pb.VERDICT_REJECTED
    request.published_at.CopyFrom(to_timestamp(T0 + timedelta(days=1)))
    on_time = await security.VerifyArtifact(request)
    assert on_time.verdict == pb.VERDICT_VERIFIED
    assert [c.name for c in on_time.checks][3] == CheckName.PUBLISHED_AT


async def test_rotation_errors_map_to_status_codes(stubs: Stubs) -> None:
    """Unknown key → NOT_FOUND; rotating a revoked key → FAILED_PRECONDITION; a bad overlap
    → INVALID_ARGUMENT."""
    security, keys = stubs
    publisher = Publisher(name="acme", key_id="acme-2026")
    await register(security, publisher)
    successor = Publisher(name="acme", key_id="acme-2027")
    rotate = kpb.RotatePublisherKeyRequest(
        tenant_id="acme",
        key_id="acme-2026",
        new_key_id="acme-2027",
        algorithm=pb.KEY_ALGORITHM_ED25519,
        public_key_pem=successor.public_key_pem,
        overlap=Duration(seconds=-1),
    )
    with pytest.raises(grpc.aio.AioRpcError) as bad_overlap:
        await keys.RotatePublisherKey(rotate)
    assert bad_overlap.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    unknown = kpb.RotatePublisherKeyRequest()
    unknown.CopyFrom(rotate)
    unknown.key_id = "nope"
    unknown.overlap.seconds = 60
    with pytest.raises(grpc.aio.AioRpcError) as not_found:
        await keys.RotatePublisherKey(unknown)
    assert not_found.value.code() is grpc.StatusCode.NOT_FOUND
    await keys.RevokePublisherKey(
        kpb.RevokePublisherKeyRequest(tenant_id="acme", key_id="acme-2026")
    )
    rotate.overlap.seconds = 60
    with pytest.raises(grpc.aio.AioRpcError) as revoked:
        await keys.RotatePublisherKey(rotate)
    assert revoked.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "is revoked" in (revoked.value.details() or "")


async def test_registry_signature_without_configured_keys_is_rejected(stubs: Stubs) -> None:
    """A registry signature sent to a service with no registry keys fails that check, saying so."""
    security, _ = stubs
    publisher = Publisher(name="acme", key_id="acme-2026")
    await register(security, publisher)
    artifact = publisher.publish(PLUGIN, "1.0.0")
    response = await security.VerifyArtifact(
        pb.VerifyArtifactRequest(
            tenant_id="acme",
            plugin=PLUGIN,
            version="1.0.0",
            tarball=artifact.tarball,
            integrity=artifact.integrity,
            signature=artifact.signature,
            key_id=artifact.key_id,
            registry_signature=b"\x30\x06\x02\x01\x01\x02\x01\x01",
            registry_key_id="SHA256:x",
        )
    )
    assert response.verdict == pb.VERDICT_REJECTED
    (check,) = [c for c in response.checks if c.name == CheckName.REGISTRY_SIGNATURE]
    assert check.detail == "no npm registry keys are configured"
