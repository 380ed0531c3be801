"""PublisherKeyService and VerifyArtifact's key lifecycle and npm registry signatures, with the
security service as its own process on real PostgreSQL and JetStream."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from portico.security.v1 import keys_pb2 as kpb
from portico.security.v1 import keys_pb2_grpc
from portico.security.v1 import security_pb2 as pb
from portico_security.testing.artifacts import Publisher, npm_tarball
from portico_security.verification.domain.integrity import compute_sri
from portico_security.verification.domain.signatures import signed_message
from portico_security.verification.domain.verification import CheckName

if TYPE_CHECKING:
    from portico.security.v1.keys_pb2_grpc import PublisherKeyServiceAsyncStub as KeyStub
    from portico.security.v1.security_pb2_grpc import SecurityServiceAsyncStub as Stub

pytestmark = pytest.mark.integration

PLUGIN = "@acme/plugin-cost-insights"
REGISTRY_KEY_ID = "SHA256:test-registry"
ECDSA = ec.ECDSA(hashes.SHA256())
REGISTRY = ec.generate_private_key(ec.SECP256R1())
REGISTRY_EXPIRES = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def service_env(tmp_path: Path) -> dict[str, str]:
    """The service reads a registry keys file in npm's format, holding a key we control."""
    der = REGISTRY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    document = {
        "keys": [
            {
                "expires": "2026-01-01T00:00:00.000Z",
                "keyid": REGISTRY_KEY_ID,
                "keytype": "ecdsa-sha2-nistp256",
                "scheme": "ecdsa-sha2-nistp256",
                "key": base64.b64encode(der).decode("ascii"),
            }
        ]
    }
    path = tmp_path / "npm-registry-keys.json"
    path.write_text(json.dumps(document))
    return {"PORTICO_NPM_REGISTRY_KEYS_FILE": str(path)}


@pytest.fixture
async def keys_stub(security_service: str) -> AsyncIterator[KeyStub]:
    async with grpc.aio.insecure_channel(security_service) as channel:
        yield keys_pb2_grpc.PublisherKeyServiceStub(channel)


def stamp(moment: datetime) -> Timestamp:
    result = Timestamp()
    result.FromDatetime(moment)
    return result


def p256_pem(private: ec.EllipticCurvePrivateKey) -> str:
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def checks(response: pb.VerifyArtifactResponse) -> dict[str, tuple[bool, str]]:
    return {c.name: (c.passed, c.detail) for c in response.checks}


async def test_rotate_revoke_and_list_over_grpc(stub: Stub, keys_stub: KeyStub) -> None:
    """A key is rotated to an ECDSA P-256 key (the old one gets the overlap deadline), the new
    key verifies, a revoked key's signature is rejected, and the list shows it all."""
    tenant = "keys-grpc"
    old = Publisher(name="acme", key_id="acme-2026")
    await stub.RegisterPublisherKey(
        pb.RegisterPublisherKeyRequest(
            tenant_id=tenant,
            publisher="acme",
            key_id=old.key_id,
            algorithm=pb.KEY_ALGORITHM_ED25519,
            public_key_pem=old.public_key_pem,
        ),
        timeout=10,
    )
    new_private = ec.generate_private_key(ec.SECP256R1())
    rotated = await keys_stub.RotatePublisherKey(
        kpb.RotatePublisherKeyRequest(
            tenant_id=tenant,
            key_id=old.key_id,
            new_key_id="acme-2027",
            algorithm=pb.KEY_ALGORITHM_ECDSA_P256,
            public_key_pem=p256_pem(new_private),
            overlap=Duration(seconds=7 * 86400),
        ),
        timeout=10,
    )
    assert rotated.old_key.replaced_by == "acme-2027"
    overlap = rotated.old_key.expires_at.ToDatetime() - rotated.new_key.created_at.ToDatetime()
    assert overlap == timedelta(days=7)
    assert rotated.new_key.algorithm == pb.KEY_ALGORITHM_ECDSA_P256

    tarball = npm_tarball(PLUGIN, "2.4.0")
    integrity = compute_sri(tarball)
    signature = new_private.sign(signed_message(PLUGIN, "2.4.0", integrity), ECDSA)
    request = pb.VerifyArtifactRequest(
        tenant_id=tenant,
        plugin=PLUGIN,
        version="2.4.0",
        tarball=tarball,
        integrity=integrity,
        signature=signature,
        key_id="acme-2027",
    )
    verified = await stub.VerifyArtifact(request, timeout=30)
    assert verified.verdict == pb.VERDICT_VERIFIED, checks(verified)

    revoked = await keys_stub.RevokePublisherKey(
        kpb.RevokePublisherKeyRequest(tenant_id=tenant, key_id="acme-2027", reason="leaked"),
        timeout=10,
    )
    assert revoked.key.HasField("revoked_at")
    rejected = await stub.VerifyArtifact(request, timeout=30)
    assert rejected.verdict == pb.VERDICT_REJECTED
    passed, detail = checks(rejected)[CheckName.PUBLISHER_KEY]
    assert not passed
    assert "was revoked at" in detail
    assert detail.endswith("(leaked)")

    listed = await keys_stub.ListPublisherKeys(
        kpb.ListPublisherKeysRequest(tenant_id=tenant), timeout=10
    )
    assert [(k.key_id, k.replaced_by, k.revocation_reason) for k in listed.keys] == [
        ("acme-2026", "acme-2027", ""),
        ("acme-2027", "", "leaked"),
    ]


async def test_unknown_key_rotation_is_not_found(keys_stub: KeyStub) -> None:
    """Rotating a key id the tenant never registered answers NOT_FOUND."""
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await keys_stub.RevokePublisherKey(
            kpb.RevokePublisherKeyRequest(tenant_id="keys-none", key_id="nope"), timeout=10
        )
    assert raised.value.code() is grpc.StatusCode.NOT_FOUND


async def test_registry_signature_verified_with_the_configured_keys(stub: Stub) -> None:
    """A registry signature by the configured npm key verifies for a package published before
    the key's expiry and fails, saying so, for one published after it."""
    tenant = "keys-registry"
    publisher = Publisher(name="acme", key_id="acme-2026")
    await stub.RegisterPublisherKey(
        pb.RegisterPublisherKeyRequest(
            tenant_id=tenant,
            publisher="acme",
            key_id=publisher.key_id,
            algorithm=pb.KEY_ALGORITHM_ED25519,
            public_key_pem=publisher.public_key_pem,
        ),
        timeout=10,
    )
    artifact = publisher.publish(PLUGIN, "2.3.0")
    registry_signature = REGISTRY.sign(signed_message(PLUGIN, "2.3.0", artifact.integrity), ECDSA)

    async def verify_published(at: datetime) -> pb.VerifyArtifactResponse:
        return await stub.VerifyArtifact(
            pb.VerifyArtifactRequest(
                tenant_id=tenant,
                plugin=PLUGIN,
                version="2.3.0",
                tarball=artifact.tarball,
                integrity=artifact.integrity,
                signature=artifact.signature,
                key_id=artifact.key_id,
                published_at=stamp(at),
                registry_signature=registry_signature,
                registry_key_id=REGISTRY_KEY_ID,
            ),
            timeout=30,
        )

    before = await verify_published(REGISTRY_EXPIRES - timedelta(days=1))
    assert before.verdict == pb.VERDICT_VERIFIED, checks(before)
    assert checks(before)[CheckName.REGISTRY_SIGNATURE][0]
    after = await verify_published(REGISTRY_EXPIRES + timedelta(days=1))
    assert after.verdict == pb.VERDICT_REJECTED
    passed, detail = checks(after)[CheckName.REGISTRY_SIGNATURE]
    assert not passed
    assert "expired at 2026-01-01" in detail
