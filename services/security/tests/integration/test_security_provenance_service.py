"""VerifyProvenance and VerifyArtifact over gRPC on the running service, with corpus packages.

The service verifies offline against the corpus's Sigstore public-good
trusted root and npm registry keys (configured through its settings), with
npm's own verifier behind its Node.js adapter.
"""

from __future__ import annotations

import json
import tarfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import grpc
import pytest

from portico.security.v1 import provenance_pb2 as pb
from portico.security.v1 import provenance_pb2_grpc as pb_grpc
from portico.security.v1 import security_pb2
from portico_security.testing.artifacts import Publisher

if TYPE_CHECKING:
    from portico.security.v1.security_pb2_grpc import SecurityServiceAsyncStub

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parents[4].parent / "shared" / "conformance" / "npm-provenance"
TENANT = "acme"


@pytest.fixture
def service_env() -> dict[str, str]:
    """The service trusts the corpus's public-good root and npm registry keys."""
    return {
        "PORTICO_PROVENANCE_TRUSTED_ROOT": str(CORPUS / "sigstore-public-good-trusted-root.json"),
        "PORTICO_PROVENANCE_NPM_KEYS": str(CORPUS / "npm-registry-keys.json"),
    }


@pytest.fixture
async def provenance(security_service: str) -> AsyncIterator[pb_grpc.ProvenanceServiceAsyncStub]:
    async with grpc.aio.insecure_channel(security_service) as channel:
        yield pb_grpc.ProvenanceServiceStub(channel)


def request_for(package: str, *, attestations: bytes | None = None) -> pb.VerifyProvenanceRequest:
    tarball = CORPUS / f"{package}.tgz"
    with tarfile.open(tarball) as tar:
        member = tar.extractfile("package/package.json")
        assert member is not None
        manifest = json.load(member)
    return pb.VerifyProvenanceRequest(
        tenant_id=TENANT,
        plugin=manifest["name"],
        version=manifest["version"],
        tarball=tarball.read_bytes(),
        attestations_json=attestations or (CORPUS / f"{package}.tgz.json").read_bytes(),
    )


async def test_genuine_package_verifies_over_grpc(
    provenance: pb_grpc.ProvenanceServiceAsyncStub,
) -> None:
    """A genuine corpus package is VERIFIED with its builder, source, commit and SLSA L3."""
    response = await provenance.VerifyProvenance(
        request_for("provenance-npm-test-ossf"), timeout=60
    )
    assert response.verdict == security_pb2.VERDICT_VERIFIED
    assert [a.passed for a in response.attestations] == [True, True]
    assert (
        response.provenance.source_repository
        == "https://github.com/laurentsimon/provenance-npm-test"
    )
    assert response.provenance.source_commit == "34490b44db557f009617bcb92b8780f972c189ab"
    assert response.provenance.slsa_build_level == 3
    assert response.provenance.builder_id.startswith(
        "https://github.com/slsa-framework/slsa-github-generator/"
    )


async def test_tampered_publish_attestation_is_rejected_over_grpc(
    provenance: pb_grpc.ProvenanceServiceAsyncStub,
) -> None:
    """A package whose publish attestation was tampered with is REJECTED naming that attestation."""
    response = await provenance.VerifyProvenance(
        request_for("supreme-googles-cli-v02-tag-invalidsigpub"), timeout=60
    )
    assert response.verdict == security_pb2.VERDICT_REJECTED
    failed = [a for a in response.attestations if not a.passed]
    assert [a.predicate_type for a in failed] == [
        "https://github.com/npm/attestation/tree/main/specs/publish/v0.1"
    ]
    assert response.provenance.slsa_build_level == 0


async def test_malformed_attestations_are_invalid_argument_over_grpc(
    provenance: pb_grpc.ProvenanceServiceAsyncStub,
) -> None:
    """An attestations document that is not JSON is refused with INVALID_ARGUMENT and its reason."""
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await provenance.VerifyProvenance(
            request_for("provenance-npm-test-ossf", attestations=b"{nope"), timeout=30
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "malformed attestations: not JSON" in (raised.value.details() or "")


async def _verify_artifact(
    stub: SecurityServiceAsyncStub, package: str, attestations: bytes | None = None
) -> security_pb2.VerifyArtifactResponse:
    """VerifyArtifact for a corpus package, signed by a freshly registered publisher key."""
    publisher = Publisher(name="corpus", key_id=f"corpus-{package}")
    await stub.RegisterPublisherKey(
        security_pb2.RegisterPublisherKeyRequest(
            tenant_id=TENANT,
            publisher=publisher.name,
            key_id=publisher.key_id,
            algorithm=security_pb2.KEY_ALGORITHM_ED25519,
            public_key_pem=publisher.public_key_pem,
        ),
        timeout=10,
    )
    request = request_for(package, attestations=attestations)
    artifact = publisher.publish(request.plugin, request.version, request.tarball)
    return await stub.VerifyArtifact(
        security_pb2.VerifyArtifactRequest(
            tenant_id=TENANT,
            plugin=artifact.plugin,
            version=artifact.version,
            tarball=artifact.tarball,
            integrity=artifact.integrity,
            signature=artifact.signature,
            key_id=artifact.key_id,
            attestations_json=request.attestations_json,
        ),
        timeout=60,
    )


async def test_verify_artifact_with_genuine_attestations_is_verified(
    stub: SecurityServiceAsyncStub, admin: asyncpg.Connection
) -> None:
    """Genuine attestations pass VerifyArtifact's provenance check; the report is stored."""
    response = await _verify_artifact(stub, "gundam-visor-cli-v1-tag")
    stored = await admin.fetchval(
        "SELECT provenance FROM security.verifications WHERE verification_id = $1",
        uuid.UUID(response.verification_id),
    )
    assert json.loads(stored)["slsa_build_level"] == 2
    assert response.verdict == security_pb2.VERDICT_VERIFIED
    [check] = [c for c in response.checks if c.name == "provenance"]
    assert check.passed
    assert "SLSA Build L2" in check.detail
    assert response.provenance.verified
    assert (
        response.provenance.source_repository == "https://github.com/ramonpetgrave64/gundam-visor"
    )
    assert [a.passed for a in response.provenance.attestations] == [True, True]


async def test_verify_artifact_with_tampered_provenance_is_rejected(
    stub: SecurityServiceAsyncStub,
) -> None:
    """VerifyArtifact with a tampered SLSA provenance is REJECTED by the provenance check alone."""
    response = await _verify_artifact(stub, "provenance-npm-test-cli-v1-prega-invalidsigprov")
    assert response.verdict == security_pb2.VERDICT_REJECTED
    failed = [c.name for c in response.checks if not c.passed]
    assert failed == ["provenance"]
    assert not response.provenance.verified
    assert response.provenance.slsa_build_level == 0


async def test_verify_artifact_with_malformed_attestations_stores_nothing(
    stub: SecurityServiceAsyncStub, admin: asyncpg.Connection
) -> None:
    """Malformed attestations are INVALID_ARGUMENT and no decision is recorded."""
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await _verify_artifact(
            stub, "provenance-npm-test-ossf", attestations=b'{"attestations": 7}'
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert 'no "attestations" list' in (raised.value.details() or "")
    assert await admin.fetchval("SELECT count(*) FROM security.verifications") == 0
