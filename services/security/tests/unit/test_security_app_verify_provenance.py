"""verify_artifact's provenance check over in-memory adapters and a fake Sigstore verifier."""

from __future__ import annotations

from dataclasses import replace

import pytest

from portico_security.testing.artifacts import Publisher
from portico_security.testing.provenance import GENUINE, NAME, TARBALL, TRUST, VERSION, FakeVerifier
from portico_security.verification.adapters.memory import VerificationMemoryStore
from portico_security.verification.app.commands import VerifyArtifact
from portico_security.verification.app.ports import ProvenanceVerification, VerificationUowFactory
from portico_security.verification.app.verify import verify_artifact
from portico_security.verification.domain.provenance import PROVENANCE_CHECK
from portico_security.verification.domain.verification import Verdict
from portico_security.verification.errors import MalformedAttestationsError

MAX = 1024 * 1024

pytestmark = pytest.mark.usefixtures("registered")


def command(publisher: Publisher, attestations: bytes = GENUINE) -> VerifyArtifact:
    artifact = publisher.publish(NAME, VERSION, TARBALL)
    return VerifyArtifact(
        tenant_id="acme",
        plugin=artifact.plugin,
        version=artifact.version,
        tarball=artifact.tarball,
        integrity=artifact.integrity,
        signature=artifact.signature,
        key_id=artifact.key_id,
        attestations=attestations,
    )


async def test_verified_attestations_add_a_passed_provenance_check(
    uow: VerificationUowFactory, store: VerificationMemoryStore, publisher: Publisher
) -> None:
    """Genuine attestations add a passed "provenance" check naming the SLSA level."""
    verification = await verify_artifact(
        uow,
        command(publisher),
        max_size=MAX,
        provenance=ProvenanceVerification(FakeVerifier(), TRUST),
    )
    assert verification.verdict is Verdict.VERIFIED
    check = verification.report.checks[-1]
    assert check.name == PROVENANCE_CHECK
    assert check.passed
    assert "SLSA Build L2" in check.detail
    assert verification.provenance is not None
    assert verification.provenance.build.source_repository == "https://github.com/acme/cost"
    assert store.state.verifications[verification.verification_id] == verification


async def test_failed_provenance_rejects_an_otherwise_good_artifact(
    uow: VerificationUowFactory, store: VerificationMemoryStore, publisher: Publisher
) -> None:
    """A signed, intact artifact whose provenance fails is REJECTED, recorded and announced."""
    verifier = FakeVerifier()
    verifier.answers = {
        k: replace(v, ok=False, kind="verification", message="tampered")
        for k, v in verifier.answers.items()
    }
    verification = await verify_artifact(
        uow,
        command(publisher),
        max_size=MAX,
        provenance=ProvenanceVerification(verifier, TRUST),
    )
    assert verification.verdict is Verdict.REJECTED
    assert [c.name for c in verification.report.checks if not c.passed] == [PROVENANCE_CHECK]
    assert verification.report.reasons[0].startswith("provenance rejected: ")
    assert len(store.sink.events) == 1


async def test_attestations_without_a_configured_verifier_fail_the_check(
    uow: VerificationUowFactory, publisher: Publisher
) -> None:
    """Attestations sent to a service without provenance verification are not silently ignored."""
    verification = await verify_artifact(uow, command(publisher), max_size=MAX)
    assert verification.verdict is Verdict.REJECTED
    assert verification.report.reasons == (
        "provenance verification is not configured on this service",
    )


async def test_no_attestations_means_no_provenance_check(
    uow: VerificationUowFactory, publisher: Publisher
) -> None:
    """Without attestations the report has no provenance check and no report."""
    verifier = FakeVerifier()
    verification = await verify_artifact(
        uow,
        command(publisher, attestations=b""),
        max_size=MAX,
        provenance=ProvenanceVerification(verifier, TRUST),
    )
    assert PROVENANCE_CHECK not in [c.name for c in verification.report.checks]
    assert verification.provenance is None
    assert verifier.asked == []


async def test_malformed_attestations_raise_and_record_nothing(
    uow: VerificationUowFactory, store: VerificationMemoryStore, publisher: Publisher
) -> None:
    """A malformed attestations document raises; no decision is stored and no event emitted."""
    with pytest.raises(MalformedAttestationsError):
        await verify_artifact(
            uow,
            command(publisher, attestations=b"{"),
            max_size=MAX,
            provenance=ProvenanceVerification(FakeVerifier(), TRUST),
        )
    assert store.state.verifications == {}
    assert store.sink.events == []
