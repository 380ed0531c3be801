"""Replayed or substituted versions: once a tenant verified name@version, other bytes under
that version are refused, whoever signed them."""

from __future__ import annotations

import pytest

from portico_security.testing.artifacts import Publisher, SignedArtifact, npm_tarball
from portico_security.verification.adapters.memory import VerificationMemoryStore
from portico_security.verification.app.commands import VerifyArtifact
from portico_security.verification.app.ports import VerificationUowFactory
from portico_security.verification.app.verify import verify_artifact
from portico_security.verification.domain.verification import CheckName, Verdict

PLUGIN = "@acme/plugin-cost-insights"
MAX = 1024 * 1024

pytestmark = pytest.mark.usefixtures("registered")


def command(artifact: SignedArtifact, tenant_id: str = "acme") -> VerifyArtifact:
    return VerifyArtifact(
        tenant_id=tenant_id,
        plugin=artifact.plugin,
        version=artifact.version,
        tarball=artifact.tarball,
        integrity=artifact.integrity,
        signature=artifact.signature,
        key_id=artifact.key_id,
    )


async def test_other_bytes_under_a_verified_version_are_refused(
    uow: VerificationUowFactory, store: VerificationMemoryStore, publisher: Publisher
) -> None:
    """A validly signed but different tarball for an already verified version is REJECTED by
    the version-pin check, naming the pinned integrity."""
    first = publisher.publish(PLUGIN, "2.3.0")
    assert (await verify_artifact(uow, command(first), max_size=MAX)).verdict is Verdict.VERIFIED
    other = publisher.publish(PLUGIN, "2.3.0", npm_tarball(PLUGIN, "2.3.0", {"x.js": "evil()"}))
    verification = await verify_artifact(uow, command(other), max_size=MAX)
    assert verification.verdict is Verdict.REJECTED
    failed = {c.name: c.detail for c in verification.report.checks if not c.passed}
    assert list(failed) == [CheckName.VERSION_PIN]
    assert failed[CheckName.VERSION_PIN].startswith(
        f"{PLUGIN}@2.3.0 was verified before as {first.integrity}; npm versions are immutable"
    )


async def test_the_same_bytes_verify_again(
    uow: VerificationUowFactory, publisher: Publisher
) -> None:
    """Re-verifying the identical artifact passes the version pin."""
    artifact = publisher.publish(PLUGIN, "2.3.0")
    await verify_artifact(uow, command(artifact), max_size=MAX)
    again = await verify_artifact(uow, command(artifact), max_size=MAX)
    assert again.verdict is Verdict.VERIFIED
    assert [c.name for c in again.report.checks][-1] == CheckName.VERSION_PIN


async def test_a_rejected_attempt_pins_nothing(
    uow: VerificationUowFactory, publisher: Publisher
) -> None:
    """Only VERIFIED decisions pin a version: a rejected forgery first does not block the
    genuine artifact."""
    genuine = publisher.publish(PLUGIN, "2.3.0")
    forged = Publisher(name="evil", key_id=publisher.key_id).publish(PLUGIN, "2.3.0")
    rejected = await verify_artifact(uow, command(forged), max_size=MAX)
    assert rejected.verdict is Verdict.REJECTED
    assert (await verify_artifact(uow, command(genuine), max_size=MAX)).verdict is (
        Verdict.VERIFIED
    )


async def test_pins_are_per_tenant(uow: VerificationUowFactory, publisher: Publisher) -> None:
    """Another tenant's verification of a version pins nothing for this tenant."""
    await verify_artifact(uow, command(publisher.publish(PLUGIN, "2.3.0"), "globex"), max_size=MAX)
    other = publisher.publish(PLUGIN, "2.3.0", npm_tarball(PLUGIN, "2.3.0", {"y.js": ""}))
    verification = await verify_artifact(uow, command(other), max_size=MAX)
    assert verification.verdict is Verdict.VERIFIED
