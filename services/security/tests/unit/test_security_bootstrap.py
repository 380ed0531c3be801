"""`build`: what the security process serves and runs, wired over in-memory adapters."""

from __future__ import annotations

import asyncio

import pytest

from portico_common.clock import ManualClock
from portico_security.bootstrap import build, max_message_bytes
from portico_security.install.adapters.verification import VerificationService
from portico_security.install.app.install import InstallSecure, install_secure, set_policy
from portico_security.install.domain.policy import ApprovalRule, InstallPolicy
from portico_security.install.domain.requests import InstallStatus
from portico_security.settings import SecuritySettings
from portico_security.testing.artifacts import Publisher
from portico_security.testing.install import NoAdvisoryMatcher, VerificationTrustScorer
from portico_security.testing.provenance import TRUST, FakeVerifier
from portico_security.testing.world import MemoryWorld
from portico_security.verification.app.commands import RegisterPublisherKey, VerifyArtifact
from portico_security.verification.app.keys import register_publisher_key
from portico_security.verification.app.ports import ProvenanceVerification

PLUGIN = "@acme/plugin-cost-insights"
SERVED = [
    "portico.security.v1.SecurityService",
    "portico.security.v1.ProvenanceService",
    "portico.security.v1.PublisherKeyService",
    "portico.security.v1.AdvisoryService",
    "portico.security.v1.TrustService",
    "portico.security.v1.InstallService",
]


def test_every_security_service_is_served(world: MemoryWorld) -> None:
    """With a provenance verifier, build lists the six services, consumes no events, and runs
    one background job: the approval deadline sweep."""
    parts = build(world.dependencies(provenance=ProvenanceVerification(FakeVerifier(), TRUST)))
    assert [s.name for s in parts.servicers] == SERVED
    assert parts.subscriptions == []
    assert len(parts.background) == 1


def test_without_a_provenance_verifier_provenance_is_not_served(world: MemoryWorld) -> None:
    """Without a provenance verifier, ProvenanceService is left out and the others stay."""
    parts = build(world.dependencies())
    assert [s.name for s in parts.servicers] == [
        name for name in SERVED if not name.endswith("ProvenanceService")
    ]
    with pytest.raises(KeyError, match="ProvenanceService"):
        parts.implementation("ProvenanceService")


def test_the_message_limit_leaves_room_beside_the_largest_tarball() -> None:
    """gRPC accepts a largest-allowed tarball plus 64 KiB for the rest of the request."""
    settings = SecuritySettings(max_artifact_bytes=1000)
    assert max_message_bytes(settings) == 1000 + 64 * 1024


async def test_the_deadline_job_reads_the_injected_clock(
    world: MemoryWorld, clock: ManualClock
) -> None:
    """The background job build returns expires a pending approval once the clock given in
    Dependencies passes its deadline, on its next tick."""
    # A century ahead of the wall clock: only the injected clock can reach this deadline.
    clock.advance(days=36_500)
    publisher = Publisher(name="acme", key_id="acme-2026")
    verification = world.verification.uow_factory()
    await register_publisher_key(
        verification,
        RegisterPublisherKey(
            "acme", publisher.name, publisher.key_id, "ed25519", publisher.public_key_pem
        ),
    )
    install = world.install.uow_factory()
    await set_policy(
        install,
        InstallPolicy("acme", approval=ApprovalRule(timeout_seconds=60)),
        actor="admin",
        reason="reviewed",
    )
    artifact = publisher.publish(PLUGIN, "1.0.0")
    outcome = await install_secure(
        install,
        InstallSecure(
            VerifyArtifact(
                tenant_id="acme",
                plugin=PLUGIN,
                version="1.0.0",
                tarball=artifact.tarball,
                integrity=artifact.integrity,
                signature=artifact.signature,
                key_id=artifact.key_id,
            ),
            requested_by="bob",
        ),
        verifier=VerificationService(verification, max_artifact_bytes=1 << 20),
        trust=VerificationTrustScorer(),
        advisories=NoAdvisoryMatcher(),
    )
    assert outcome.request.status is InstallStatus.PENDING_APPROVAL
    (job,) = build(world.dependencies(approval_tick_seconds=0.01)).background
    stop = asyncio.Event()
    sweeping = asyncio.create_task(job(stop))
    try:
        assert await _status(world, outcome.request.request_id) is InstallStatus.PENDING_APPROVAL
        clock.advance(60)
        for _ in range(500):
            if await _status(world, outcome.request.request_id) is InstallStatus.EXPIRED:
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("the approval did not expire within 5 s of its deadline")
    finally:
        stop.set()
        await sweeping


async def _status(world: MemoryWorld, request_id: str) -> InstallStatus:
    async with world.install.open("acme") as tx:
        found = await tx.install_requests.get("acme", request_id)
    assert found is not None
    return found.status
