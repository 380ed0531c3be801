"""Security use cases: register publisher keys, verify artifacts."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from portico.events.v1 import events_pb2
from portico_security.verification.app.commands import RegisterPublisherKey, VerifyArtifact
from portico_security.verification.app.ports import UnitOfWorkFactory
from portico_security.verification.app.provenance import (
    ProvenanceVerification,
    verify_npm_provenance,
)
from portico_security.verification.app.validation import check_register, check_verify
from portico_security.verification.domain import verification as rules
from portico_security.verification.domain.decisions import Verification
from portico_security.verification.domain.integrity import IntegrityHasher
from portico_security.verification.domain.package_names import (
    package_name_problems,
    version_problem,
)
from portico_security.verification.domain.provenance import (
    ProvenanceReport,
    provenance_check,
    with_check,
)
from portico_security.verification.domain.registry_signatures import RegistryKeys
from portico_security.verification.domain.signatures import (
    PublisherKey,
    canonical_pem,
    key_algorithm,
    same_key,
)
from portico_security.verification.domain.verification import ArtifactClaim, Verdict, hasher_for
from portico_security.verification.errors import KeyAlreadyRegisteredError

# Hash the tarball in slices, yielding to the event loop between them, so a
# large upload does not stall every other RPC while it is hashed.
CHUNK_SIZE = 64 * 1024


def new_verification_id() -> str:
    return str(uuid.uuid4())


async def register_publisher_key(
    uow: UnitOfWorkFactory, command: RegisterPublisherKey
) -> PublisherKey:
    """Registers a publisher key for the tenant.

    Registering the same key again (same id, publisher, algorithm and key
    material) returns the stored key unchanged, so a retried call succeeds;
    the same id with anything different is KeyAlreadyRegisteredError. Key
    ids are never reused for another key.
    """
    check_register(command)
    algorithm = key_algorithm(command.algorithm)
    pem = canonical_pem(command.public_key_pem, algorithm)
    async with uow(command.tenant_id) as tx:
        key = PublisherKey(
            tenant_id=command.tenant_id,
            publisher=command.publisher,
            key_id=command.key_id,
            algorithm=algorithm,
            public_key_pem=pem,
            created_at=tx.clock.now(),
            expires_at=command.expires_at,
        )
        if await tx.publisher_keys.add(key):
            return key
        existing = await tx.publisher_keys.get(key.tenant_id, key.key_id)
        if existing is None:  # pragma: no cover - keys are never deleted
            raise KeyAlreadyRegisteredError(key.tenant_id, key.key_id)
        if not same_key(existing, key):
            raise KeyAlreadyRegisteredError(key.tenant_id, key.key_id)
        if existing.publisher != key.publisher:
            raise KeyAlreadyRegisteredError(
                key.tenant_id, key.key_id, f"another publisher ({existing.publisher!r})"
            )
        if command.expires_at is not None and existing.expires_at != command.expires_at:
            # Lifecycle changes go through RotatePublisherKey / RevokePublisherKey.
            raise KeyAlreadyRegisteredError(
                key.tenant_id, key.key_id, f"another expiry ({existing.expires_at})"
            )
        return existing


async def verify_artifact(
    uow: UnitOfWorkFactory,
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
        subject = f"{claim.plugin}@{claim.version}"
        if report.verdict is Verdict.VERIFIED and key is not None:
            await tx.emit(
                events_pb2.ArtifactVerified(
                    tenant_id=claim.tenant_id,
                    plugin=claim.plugin,
                    version=claim.version,
                    integrity=claim.integrity,
                    publisher=key.publisher,
                    key_id=key.key_id,
                    verification_id=verification.verification_id,
                ),
                subject=subject,
            )
        else:
            await tx.emit(
                events_pb2.ArtifactRejected(
                    tenant_id=claim.tenant_id,
                    plugin=claim.plugin,
                    version=claim.version,
                    reasons=report.reasons,
                    verification_id=verification.verification_id,
                ),
                subject=subject,
            )
    return verification


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
