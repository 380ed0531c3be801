"""Verify an artifact: judge it, record the decision and announce it in one transaction."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from portico_common.npm import package_name_problems, version_problem
from portico_security.verification.app.commands import VerifyArtifact
from portico_security.verification.app.ports import (
    ProvenanceVerification,
    VerificationUowFactory,
)
from portico_security.verification.app.provenance import verify_npm_provenance
from portico_security.verification.app.validation import check_verify
from portico_security.verification.domain import verification as rules
from portico_security.verification.domain.decisions import Verification
from portico_security.verification.domain.events import (
    ArtifactRejected,
    ArtifactVerified,
    VerificationEvent,
)
from portico_security.verification.domain.integrity import IntegrityHasher
from portico_security.verification.domain.provenance import (
    ProvenanceReport,
    provenance_check,
    with_check,
)
from portico_security.verification.domain.registry_signatures import RegistryKeys
from portico_security.verification.domain.signatures import PublisherKey
from portico_security.verification.domain.verification import ArtifactClaim, Verdict, hasher_for

# Hash the tarball in slices, yielding to the event loop between them, so a
# large upload does not stall every other RPC while it is hashed.
CHUNK_SIZE = 64 * 1024


def new_verification_id() -> str:
    return str(uuid.uuid4())


async def verify_artifact(
    uow: VerificationUowFactory,
    command: VerifyArtifact,
    *,
    max_size: int,
    chunk_size: int = CHUNK_SIZE,
    new_id: Callable[[], str] = new_verification_id,
    registry_keys: RegistryKeys | None = None,
    provenance: ProvenanceVerification | None = None,
) -> Verification:
    """Judges an artifact, records the decision and emits its event in one transaction.

    A failed check is a REJECTED decision (stored, `plugin.artifact.rejected`
    emitted), not an error; only a malformed request raises, and then nothing
    is stored or emitted. With attestations, the "provenance" check verifies
    npm's two attestations (app/provenance.py) before the transaction opens.
    """
    check_verify(command)
    claim = ArtifactClaim(
        tenant_id=command.tenant_id,
        plugin=command.plugin,
        version=command.version,
        integrity=command.integrity,
        signature=command.signature,
        key_id=command.key_id,
        # The request declares no size of its own; the bytes received are the
        # claim, so the size check is the upload limit.
        size=len(command.tarball),
        published_at=command.published_at,
        registry_signature=command.registry_signature,
        registry_key_id=command.registry_key_id,
    )
    hasher = hasher_for(claim)
    if hasher is not None:
        # Hashed before the transaction: no pooled connection waits on the CPU.
        await _hash_in_chunks(hasher, command.tarball, chunk_size)
    provenance_report, provenance_problem = await _provenance(command, provenance)
    async with uow(command.tenant_id) as tx:
        key = await tx.publisher_keys.get(claim.tenant_id, claim.key_id) if claim.key_id else None
        pinned = await tx.verifications.pinned_integrity(
            claim.tenant_id, claim.plugin, claim.version
        )
        report = rules.verify_artifact(
            claim,
            hasher,
            key,
            max_size=max_size,
            now=tx.clock.now(),
            registry_keys=registry_keys,
            pinned_integrity=pinned,
        )
        if command.attestations:
            report = with_check(report, provenance_check(provenance_report, provenance_problem))
        verification = Verification(
            verification_id=new_id(),
            tenant_id=claim.tenant_id,
            plugin=claim.plugin,
            version=claim.version,
            integrity=claim.integrity,
            key_id=claim.key_id,
            report=report,
            created_at=tx.clock.now(),
            provenance=provenance_report,
        )
        await tx.verifications.add(verification)
        await tx.publish([decision_event(verification, key)])
    return verification


def decision_event(verification: Verification, key: PublisherKey | None) -> VerificationEvent:
    """plugin.artifact.verified with the key that vouched, or plugin.artifact.rejected."""
    if verification.verdict is Verdict.VERIFIED and key is not None:
        return ArtifactVerified(
            tenant_id=verification.tenant_id,
            plugin=verification.plugin,
            version=verification.version,
            verification_id=verification.verification_id,
            integrity=verification.integrity,
            publisher=key.publisher,
            key_id=key.key_id,
        )
    return ArtifactRejected(
        tenant_id=verification.tenant_id,
        plugin=verification.plugin,
        version=verification.version,
        verification_id=verification.verification_id,
        reasons=verification.report.reasons,
    )


async def _hash_in_chunks(hasher: IntegrityHasher, data: bytes, chunk_size: int) -> None:
    view = memoryview(data)
    for start in range(0, len(view), chunk_size):
        hasher.update(view[start : start + chunk_size])
        await asyncio.sleep(0)


async def _provenance(
    command: VerifyArtifact, provenance: ProvenanceVerification | None
) -> tuple[ProvenanceReport | None, str]:
    """The provenance report of the command's attestations, or why there is none.

    Malformed attestations and an unavailable verifier raise (nothing is
    recorded); a name or version that the package-name check rejects is
    not verified against, the decision is REJECTED anyway.
    """
    if not command.attestations:
        return None, ""
    if provenance is None:
        return None, "provenance verification is not configured on this service"
    if package_name_problems(command.plugin) or version_problem(command.version):
        return None, "provenance not verified: the package name or version is invalid"
    report = await verify_npm_provenance(
        provenance.verifier,
        provenance.trust,
        tenant_id=command.tenant_id,
        plugin=command.plugin,
        version=command.version,
        tarball=command.tarball,
        attestations=command.attestations,
    )
    return report, ""
