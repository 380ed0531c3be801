"""The security service as its own process, over gRPC, on real PostgreSQL and JetStream."""

from __future__ import annotations

import base64
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import asyncpg
import grpc
import pytest
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from portico.events.v1 import events_pb2
from portico.security.v1 import security_pb2 as pb
from portico_common.db import Database, create_pool
from portico_common.events.catalog import STREAM
from portico_common.events.envelope import TENANT_HEADER, Envelope
from portico_security.testing.artifacts import Publisher, SignedArtifact, npm_tarball
from portico_security.verification.domain.integrity import compute_sri
from portico_security.verification.domain.verification import ALWAYS_RUN, CheckName

if TYPE_CHECKING:
    from portico.security.v1.security_pb2_grpc import SecurityServiceAsyncStub as Stub

pytestmark = pytest.mark.integration

PLUGIN = "@acme/plugin-cost-insights"
VERIFIED_SUBJECT = "portico.plugin.artifact.verified"
REJECTED_SUBJECT = "portico.plugin.artifact.rejected"
Eventually = Callable[..., Awaitable[Any]]


async def register(stub: Stub, publisher: Publisher, tenant_id: str) -> pb.PublisherKey:
    response = await stub.RegisterPublisherKey(
        pb.RegisterPublisherKeyRequest(
            tenant_id=tenant_id,
            publisher=publisher.name,
            key_id=publisher.key_id,
            algorithm=pb.KEY_ALGORITHM_ED25519,
            public_key_pem=publisher.public_key_pem,
        ),
        timeout=10,
    )
    return response.key


async def verify(stub: Stub, artifact: SignedArtifact, tenant_id: str) -> pb.VerifyArtifactResponse:
    return await stub.VerifyArtifact(
        pb.VerifyArtifactRequest(
            tenant_id=tenant_id,
            plugin=artifact.plugin,
            version=artifact.version,
            tarball=artifact.tarball,
            integrity=artifact.integrity,
            signature=artifact.signature,
            key_id=artifact.key_id,
        ),
        timeout=30,
    )


async def last_event(
    js: JetStreamContext, subject: str, eventually: Eventually
) -> tuple[Envelope, dict[str, str]]:
    async def probe() -> Any:
        try:
            return await js.get_last_msg(STREAM, subject)
        except NotFoundError:
            return None

    msg = await eventually(probe, what=f"an event on {subject}")
    return Envelope.decode(msg.headers, msg.data), dict(msg.headers or {})


async def count_on(js: JetStreamContext, subject: str) -> int:
    info = await js.stream_info(STREAM, subjects_filter=subject)
    return int((info.state.subjects or {}).get(subject, 0))


async def test_signed_npm_tarball_is_verified_and_announced(
    stub: Stub, js: JetStreamContext, admin: asyncpg.Connection, eventually: Eventually
) -> None:
    """A real npm .tgz signed by a registered Ed25519 key is VERIFIED, its decision stored,
    and a plugin.artifact.verified CloudEvent lands on JetStream for the tenant."""
    publisher = Publisher(name="acme", key_id="acme-2026")
    await register(stub, publisher, "acme")
    artifact = publisher.publish(PLUGIN, "2.3.0")

    response = await verify(stub, artifact, "acme")

    assert response.verdict == pb.VERDICT_VERIFIED, response.checks
    assert [c.name for c in response.checks] == list(ALWAYS_RUN)
    envelope, headers = await last_event(js, VERIFIED_SUBJECT, eventually)
    assert headers[TENANT_HEADER] == "acme"
    assert headers["ce-source"] == "portico/security"
    assert headers["ce-subject"] == f"{PLUGIN}@2.3.0"
    assert headers["Nats-Msg-Id"] == envelope.id
    assert envelope.payload == events_pb2.ArtifactVerified(
        tenant_id="acme",
        plugin=PLUGIN,
        version="2.3.0",
        integrity=artifact.integrity,
        publisher="acme",
        key_id="acme-2026",
        verification_id=response.verification_id,
    )
    row = await admin.fetchrow(
        "SELECT tenant_id, verdict, integrity, key_id, jsonb_array_length(checks) AS n"
        " FROM security.verifications WHERE verification_id = $1::uuid",
        response.verification_id,
    )
    assert dict(row or {}) == {
        "tenant_id": "acme",
        "verdict": "VERIFIED",
        "integrity": artifact.integrity,
        "key_id": "acme-2026",
        "n": len(ALWAYS_RUN),
    }


async def test_tampered_tarball_is_rejected_and_announced(
    stub: Stub, js: JetStreamContext, admin: asyncpg.Connection, eventually: Eventually
) -> None:
    """Bytes other than the signed ones are REJECTED for their integrity, the decision is
    stored, and plugin.artifact.rejected carries the reason; nothing is announced verified."""
    publisher = Publisher(name="acme", key_id="acme-2026")
    await register(stub, publisher, "acme")
    signed = publisher.publish(PLUGIN, "2.3.0")
    tampered = npm_tarball(PLUGIN, "2.3.0", {"index.js": "require('child_process');\n"})
    artifact = SignedArtifact(
        plugin=PLUGIN,
        version="2.3.0",
        tarball=tampered,
        integrity=signed.integrity,
        signature=signed.signature,
        key_id=signed.key_id,
    )

    response = await verify(stub, artifact, "acme")

    assert response.verdict == pb.VERDICT_REJECTED
    failed = {c.name: c.detail for c in response.checks if not c.passed}
    assert failed == {
        CheckName.INTEGRITY: (
            f"the tarball hashes to {compute_sri(tampered)}, not the claimed {signed.integrity}"
        )
    }
    envelope, headers = await last_event(js, REJECTED_SUBJECT, eventually)
    assert headers[TENANT_HEADER] == "acme"
    assert envelope.payload == events_pb2.ArtifactRejected(
        tenant_id="acme",
        plugin=PLUGIN,
        version="2.3.0",
        reasons=[failed[CheckName.INTEGRITY]],
        verification_id=response.verification_id,
    )
    assert await count_on(js, VERIFIED_SUBJECT) == 0
    verdict = await admin.fetchval(
        "SELECT verdict FROM security.verifications WHERE verification_id = $1::uuid",
        response.verification_id,
    )
    assert verdict == "REJECTED"


async def test_tenant_cannot_use_another_tenants_key(
    stub: Stub,
    js: JetStreamContext,
    security_url: str,
    security_service: str,
    eventually: Eventually,
) -> None:
    """Globex naming acme's key id gets REJECTED as if no such key existed, and under
    row-level security globex's transactions do not see acme's key row at all."""
    acme = Publisher(name="acme", key_id="acme-2026")
    await register(stub, acme, "acme")

    response = await verify(stub, acme.publish(PLUGIN, "2.3.0"), "globex")

    assert response.verdict == pb.VERDICT_REJECTED
    failed = {c.name: c.detail for c in response.checks if not c.passed}
    assert failed[CheckName.PUBLISHER_KEY] == (
        "no publisher key 'acme-2026' is registered for tenant 'globex'"
    )
    _, headers = await last_event(js, REJECTED_SUBJECT, eventually)
    assert headers[TENANT_HEADER] == "globex"

    # The policy, not a WHERE clause, is what hides the row: no filter at all here.
    pool = await create_pool(security_url, "security", min_size=1, max_size=2)
    try:
        db = Database(pool, "security")
        async with db.transaction("globex") as conn:
            assert await conn.fetchval("SELECT count(*) FROM publisher_keys") == 0
        async with db.transaction("acme") as conn:
            assert await conn.fetchval("SELECT count(*) FROM publisher_keys") == 1
    finally:
        await pool.close()


async def test_key_ids_are_unique_per_tenant_only(stub: Stub) -> None:
    """Two tenants may each register their own key under the same key id; within one
    tenant a different key under a taken id is ALREADY_EXISTS."""
    acme = Publisher(name="acme", key_id="release")
    globex = Publisher(name="globex", key_id="release")
    await register(stub, acme, "acme")
    await register(stub, globex, "globex")

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await register(stub, globex, "acme")

    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert (await verify(stub, globex.publish(PLUGIN, "1.0.0"), "globex")).verdict == (
        pb.VERDICT_VERIFIED
    )


async def test_malformed_request_changes_nothing(
    stub: Stub, admin: asyncpg.Connection, js: JetStreamContext
) -> None:
    """A request without a tarball is INVALID_ARGUMENT: no decision row, no outbox row."""
    publisher = Publisher(name="acme", key_id="acme-2026")
    artifact = publisher.publish(PLUGIN, "2.3.0")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.VerifyArtifact(
            pb.VerifyArtifactRequest(
                tenant_id="acme",
                plugin=PLUGIN,
                version="2.3.0",
                integrity=artifact.integrity,
                signature=artifact.signature,
                key_id=artifact.key_id,
            ),
            timeout=10,
        )

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "tarball" in (raised.value.details() or "")
    assert await admin.fetchval("SELECT count(*) FROM security.verifications") == 0
    assert await admin.fetchval("SELECT count(*) FROM security.outbox") == 0


async def test_tarball_over_grpcs_default_limit_is_verified(stub: Stub) -> None:
    """A 6 MiB tarball, over gRPC's default 4 MiB message limit and under the 50 MiB
    max_artifact_bytes, is received and VERIFIED: the server's limit follows the setting."""
    publisher = Publisher(name="acme", key_id="acme-2026")
    await register(stub, publisher, "acme")
    big = npm_tarball(PLUGIN, "2.3.0", {"data.txt": _noise(8 << 20)})
    assert len(big) > 6 << 20

    response = await verify(stub, publisher.publish(PLUGIN, "2.3.0", big), "acme")

    assert response.verdict == pb.VERDICT_VERIFIED


@pytest.mark.parametrize("service_env", [{"PORTICO_MAX_ARTIFACT_BYTES": str(1 << 20)}])
async def test_size_limit_comes_from_the_setting(stub: Stub, admin: asyncpg.Connection) -> None:
    """With PORTICO_MAX_ARTIFACT_BYTES at 1 MiB, a tarball just over it is a recorded REJECTED
    decision naming the limit, and one far over it is refused by the transport unrecorded."""
    publisher = Publisher(name="acme", key_id="acme-2026")
    await register(stub, publisher, "acme")
    just_over = publisher.publish(PLUGIN, "2.3.0", _padded((1 << 20) + 1))
    far_over = publisher.publish(PLUGIN, "2.3.0", _padded(2 << 20))

    response = await verify(stub, just_over, "acme")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await verify(stub, far_over, "acme")

    failed = {c.name: c.detail for c in response.checks if not c.passed}
    assert failed == {
        CheckName.SIZE: f"the tarball is {(1 << 20) + 1} bytes, over the {1 << 20}-byte limit"
    }
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert await admin.fetchval("SELECT count(*) FROM security.verifications") == 1


def _noise(size: int) -> str:
    # Random text barely compresses, so the gzipped tarball stays large.
    return base64.b64encode(os.urandom(size * 3 // 4)).decode("ascii")


def _padded(size: int) -> bytes:
    # Only the size matters here: the bytes need not be a valid tarball.
    return os.urandom(size)
