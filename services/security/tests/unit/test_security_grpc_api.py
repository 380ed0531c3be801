"""SecurityService as `build` wires it, behind the kernel's interceptor, over in-memory adapters
(no network beyond loopback, no database): mapping of requests, verdicts, checks and error codes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from portico.security.v1 import security_pb2 as pb
from portico.security.v1 import security_pb2_grpc as pb_grpc
from portico_security.bootstrap import build
from portico_security.testing.artifacts import Publisher, SignedArtifact
from portico_security.testing.world import MemoryWorld, loopback
from portico_security.verification.adapters.memory import VerificationMemoryStore
from portico_security.verification.domain.verification import ALWAYS_RUN, CheckName
from portico_security.verification.entrypoints.mapping import algorithm_from_proto

PLUGIN = "@acme/plugin-cost-insights"


@pytest.fixture
async def stub(world: MemoryWorld) -> AsyncIterator[pb_grpc.SecurityServiceAsyncStub]:
    async with loopback(build(world.dependencies(max_artifact_bytes=1024 * 1024))) as channel:
        yield pb_grpc.SecurityServiceStub(channel)


def register_request(
    publisher: Publisher, tenant_id: str = "acme"
) -> pb.RegisterPublisherKeyRequest:
    return pb.RegisterPublisherKeyRequest(
        tenant_id=tenant_id,
        publisher=publisher.name,
        key_id=publisher.key_id,
        algorithm=pb.KEY_ALGORITHM_ED25519,
        public_key_pem=publisher.public_key_pem,
    )


def verify_request(artifact: SignedArtifact, tenant_id: str = "acme") -> pb.VerifyArtifactRequest:
    return pb.VerifyArtifactRequest(
        tenant_id=tenant_id,
        plugin=artifact.plugin,
        version=artifact.version,
        tarball=artifact.tarball,
        integrity=artifact.integrity,
        signature=artifact.signature,
        key_id=artifact.key_id,
    )


async def test_register_returns_the_key_record(
    stub: pb_grpc.SecurityServiceAsyncStub, publisher: Publisher
) -> None:
    """RegisterPublisherKey answers with the stored record: algorithm enum, PEM and timestamp."""
    response = await stub.RegisterPublisherKey(register_request(publisher))

    assert response.key.tenant_id == "acme"
    assert response.key.key_id == "acme-2026"
    assert response.key.algorithm == pb.KEY_ALGORITHM_ED25519
    assert response.key.public_key_pem == publisher.public_key_pem
    assert response.key.created_at.seconds > 0


async def test_verified_artifact_maps_verdict_and_checks(
    stub: pb_grpc.SecurityServiceAsyncStub, store: VerificationMemoryStore, publisher: Publisher
) -> None:
    """A good artifact answers VERDICT_VERIFIED with every check, in order, passed, and the
    id of the stored decision."""
    await stub.RegisterPublisherKey(register_request(publisher))
    response = await stub.VerifyArtifact(verify_request(publisher.publish(PLUGIN, "2.3.0")))

    assert response.verdict == pb.VERDICT_VERIFIED
    assert [c.name for c in response.checks] == list(ALWAYS_RUN)
    assert all(c.passed and c.detail for c in response.checks)
    assert list(store.state.verifications) == [response.verification_id]


async def test_rejection_is_a_normal_response(
    stub: pb_grpc.SecurityServiceAsyncStub, publisher: Publisher
) -> None:
    """A failed check is status OK with VERDICT_REJECTED and the failing check's detail."""
    await stub.RegisterPublisherKey(register_request(publisher))
    artifact = publisher.publish(PLUGIN, "2.3.0")
    request = verify_request(artifact)
    request.signature = publisher.sign(PLUGIN, "9.9.9", artifact.integrity)
    response = await stub.VerifyArtifact(request)

    assert response.verdict == pb.VERDICT_REJECTED
    assert [c.name for c in response.checks if not c.passed] == [CheckName.SIGNATURE]


async def test_malformed_verify_is_invalid_argument(
    stub: pb_grpc.SecurityServiceAsyncStub, store: VerificationMemoryStore, publisher: Publisher
) -> None:
    """An empty plugin name is INVALID_ARGUMENT naming the field; nothing is stored."""
    request = verify_request(publisher.publish(PLUGIN, "2.3.0"))
    request.plugin = ""
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.VerifyArtifact(request)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "plugin" in (raised.value.details() or "")
    assert store.state.verifications == {}
    assert store.sink.events == []


async def test_conflicting_key_is_already_exists(
    stub: pb_grpc.SecurityServiceAsyncStub, publisher: Publisher
) -> None:
    """Another key under a registered key id is ALREADY_EXISTS; the same key again is OK."""
    first = await stub.RegisterPublisherKey(register_request(publisher))
    again = await stub.RegisterPublisherKey(register_request(publisher))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.RegisterPublisherKey(
            register_request(Publisher(name="acme", key_id=publisher.key_id))
        )

    assert again == first
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS


async def test_unspecified_algorithm_is_invalid_argument(
    stub: pb_grpc.SecurityServiceAsyncStub, publisher: Publisher
) -> None:
    """A key without an algorithm is refused by name rather than assumed to be Ed25519."""
    request = register_request(publisher)
    request.algorithm = pb.KEY_ALGORITHM_UNSPECIFIED
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.RegisterPublisherKey(request)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "KEY_ALGORITHM_UNSPECIFIED" in (raised.value.details() or "")


def test_algorithm_numbers_unknown_to_this_build_keep_their_number() -> None:
    """An enum number newer than this build is passed on as its number, to be refused."""
    assert algorithm_from_proto(pb.KEY_ALGORITHM_ED25519) == "ed25519"
    assert algorithm_from_proto(pb.KeyAlgorithm.ValueType(42)) == "42"
