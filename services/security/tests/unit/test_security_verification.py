"""The verification verdict: five checks, each failure explained, VERIFIED only if all pass."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from portico_security.verification.domain.integrity import IntegrityHasher, compute_sri
from portico_security.verification.domain.signatures import PublisherKey, signed_message
from portico_security.verification.domain.verification import (
    ArtifactClaim,
    Check,
    CheckName,
    Verdict,
    VerificationReport,
    hasher_for,
    verify_artifact,
)
from portico_security.verification.errors import InvalidArtifactError

MakeKey = Callable[..., PublisherKey]
MakeClaim = Callable[..., ArtifactClaim]

TARBALL = b"\x1f\x8b" + b"package/package.json {}" * 500
PLUGIN = "@acme/plugin-cost-insights"
VERSION = "2.3.0"
MAX_SIZE = 50 * 1024 * 1024


@pytest.fixture
def make_claim(signing_key: Ed25519PrivateKey) -> MakeClaim:
    """Build an honest claim for TARBALL, signed by the publisher; keywords override fields."""

    def make(**overrides: object) -> ArtifactClaim:
        integrity = str(overrides.get("integrity", compute_sri(TARBALL)))
        plugin = str(overrides.get("plugin", PLUGIN))
        version = str(overrides.get("version", VERSION))
        fields: dict[str, object] = {
            "tenant_id": "acme",
            "plugin": plugin,
            "version": version,
            "integrity": integrity,
            "signature": signing_key.sign(signed_message(plugin, version, integrity)),
            "key_id": "acme-2026",
            "size": len(TARBALL),
        }
        fields.update(overrides)
        return ArtifactClaim(**fields)  # type: ignore[arg-type]

    return make


def streamed(claim: ArtifactClaim, data: bytes = TARBALL) -> IntegrityHasher | None:
    """Stream `data` through the claim's hasher in 4 KiB chunks, as the use case would."""
    hasher = hasher_for(claim)
    if hasher is not None:
        for start in range(0, len(data), 4096):
            hasher.update(data[start : start + 4096])
    return hasher


def check(report: VerificationReport, name: CheckName) -> Check:
    (found,) = [c for c in report.checks if c.name == name]
    return found


def failed(report: VerificationReport) -> list[str]:
    return [c.name for c in report.checks if not c.passed]


def test_honest_artifact_is_verified(make_claim: MakeClaim, make_key: MakeKey) -> None:
    """A matching tarball with a genuine signature by a registered key is VERIFIED."""
    claim = make_claim()
    report = verify_artifact(claim, streamed(claim), make_key(), max_size=MAX_SIZE)
    assert report.verdict is Verdict.VERIFIED
    assert [c.name for c in report.checks] == [
        "package-name",
        "size",
        "integrity",
        "publisher-key",
        "signature",
    ]
    assert all(c.passed for c in report.checks)
    assert report.reasons == ()


def test_tampered_tarball_is_rejected_on_integrity(
    make_claim: MakeClaim, make_key: MakeKey
) -> None:
    """A tarball whose bytes changed is REJECTED by the integrity check alone."""
    claim = make_claim()
    tampered = TARBALL[:-1] + b"!"
    report = verify_artifact(claim, streamed(claim, tampered), make_key(), max_size=MAX_SIZE)
    assert report.verdict is Verdict.REJECTED
    assert failed(report) == ["integrity"]
    assert report.reasons == (
        f"the tarball hashes to {compute_sri(tampered)}, not the claimed {claim.integrity}",
    )


def test_truncated_tarball_fails_size_and_integrity(
    make_claim: MakeClaim, make_key: MakeKey
) -> None:
    """A tarball cut short fails the size check and the integrity check, each saying why."""
    claim = make_claim()
    report = verify_artifact(claim, streamed(claim, TARBALL[:1000]), make_key(), max_size=MAX_SIZE)
    assert failed(report) == ["size", "integrity"]
    assert check(report, CheckName.SIZE).detail == (
        f"received 1000 bytes but the claim declares {len(TARBALL)} (truncated or altered upload)"
    )


def test_oversized_tarball_is_rejected(make_claim: MakeClaim, make_key: MakeKey) -> None:
    """A tarball over the size limit fails the size check, naming size and limit."""
    claim = make_claim()
    report = verify_artifact(claim, streamed(claim), make_key(), max_size=1024)
    assert failed(report) == ["size"]
    assert check(report, CheckName.SIZE).detail == (
        f"the tarball is {len(TARBALL)} bytes, over the 1024-byte limit"
    )


def test_malformed_integrity_is_rejected_with_parse_error(
    make_claim: MakeClaim, make_key: MakeKey
) -> None:
    """An unreadable integrity yields no hasher and a REJECTED report quoting the parse error."""
    claim = make_claim(integrity="md5-1B2M2Y8AsgTpgAmY7PhCfg==")
    assert hasher_for(claim) is None
    report = verify_artifact(claim, None, make_key(), max_size=MAX_SIZE)
    assert report.verdict is Verdict.REJECTED
    assert failed(report) == ["integrity"]
    assert "unsupported algorithm 'md5'" in check(report, CheckName.INTEGRITY).detail
    assert "not measured" in check(report, CheckName.SIZE).detail


def test_unhashed_oversized_claim_fails_size(make_claim: MakeClaim, make_key: MakeKey) -> None:
    """Without a hasher, a declared size over the limit still fails the size check."""
    claim = make_claim(integrity="sha1-x", size=MAX_SIZE + 1)
    report = verify_artifact(claim, None, make_key(), max_size=MAX_SIZE)
    assert failed(report) == ["size", "integrity"]


def test_hasher_for_other_integrity_fails(make_claim: MakeClaim, make_key: MakeKey) -> None:
    """A hasher built for a different digest cannot vouch for the claim's integrity."""
    claim = make_claim()
    wrong = IntegrityHasher(compute_sri(b"something else"))
    wrong.update(TARBALL)
    report = verify_artifact(claim, wrong, make_key(), max_size=MAX_SIZE)
    assert failed(report) == ["integrity"]
    assert "not hashed against the claimed integrity" in check(report, CheckName.INTEGRITY).detail


def test_unknown_key_is_rejected(make_claim: MakeClaim) -> None:
    """Without a registered key both the key and the signature checks fail, saying why."""
    claim = make_claim()
    report = verify_artifact(claim, streamed(claim), None, max_size=MAX_SIZE)
    assert failed(report) == ["publisher-key", "signature"]
    assert report.reasons == (
        "no publisher key 'acme-2026' is registered for tenant 'acme'",
        "not verified: there is no usable publisher key",
    )


def test_key_of_another_tenant_is_not_used(make_claim: MakeClaim, make_key: MakeKey) -> None:
    """A key registered for another tenant vouches for nothing, even if the signature is good."""
    claim = make_claim()
    report = verify_artifact(
        claim, streamed(claim), make_key(tenant_id="globex"), max_size=MAX_SIZE
    )
    assert failed(report) == ["publisher-key", "signature"]
    assert check(report, CheckName.PUBLISHER_KEY).detail == (
        "publisher key 'acme-2026' belongs to another tenant"
    )


def test_key_with_other_id_is_not_used(make_claim: MakeClaim, make_key: MakeKey) -> None:
    """A key whose id differs from the claimed one is refused rather than tried."""
    claim = make_claim()
    report = verify_artifact(
        claim, streamed(claim), make_key(key_id="acme-2025"), max_size=MAX_SIZE
    )
    assert failed(report) == ["publisher-key", "signature"]


def test_signature_by_wrong_key_is_rejected(make_claim: MakeClaim, make_key: MakeKey) -> None:
    """A signature made with another private key fails the signature check only."""
    claim = make_claim()
    message = signed_message(PLUGIN, VERSION, claim.integrity)
    forged = make_claim(signature=Ed25519PrivateKey.generate().sign(message))
    report = verify_artifact(forged, streamed(forged), make_key(), max_size=MAX_SIZE)
    assert failed(report) == ["signature"]
    assert report.reasons == (
        f"the signature over {message.decode()!r} does not verify under key 'acme-2026'",
    )


def test_signature_over_other_version_is_rejected(
    make_claim: MakeClaim, make_key: MakeKey, signing_key: Ed25519PrivateKey
) -> None:
    """A genuine signature for another version cannot be replayed onto this one."""
    integrity = compute_sri(TARBALL)
    replayed = signing_key.sign(signed_message(PLUGIN, "2.2.0", integrity))
    claim = make_claim(signature=replayed)
    report = verify_artifact(claim, streamed(claim), make_key(), max_size=MAX_SIZE)
    assert failed(report) == ["signature"]


def test_signature_over_other_tarball_is_rejected(
    make_claim: MakeClaim, make_key: MakeKey, signing_key: Ed25519PrivateKey
) -> None:
    """Swapping both tarball and integrity without a new signature fails the signature check."""
    evil = b"malicious tarball"
    signature = signing_key.sign(signed_message(PLUGIN, VERSION, compute_sri(TARBALL)))
    claim = make_claim(integrity=compute_sri(evil), signature=signature, size=len(evil))
    report = verify_artifact(claim, streamed(claim, evil), make_key(), max_size=MAX_SIZE)
    assert failed(report) == ["signature"]


@pytest.mark.parametrize(
    ("signature", "detail"),
    [
        (b"", "no signature was supplied"),
        (b"\x00" * 32, "the signature is 32 bytes; an Ed25519 signature is 64"),
    ],
)
def test_missing_or_misshapen_signature_is_explained(
    make_claim: MakeClaim, make_key: MakeKey, signature: bytes, detail: str
) -> None:
    """An empty or wrongly sized signature is rejected with its own reason."""
    claim = make_claim(signature=signature)
    report = verify_artifact(claim, streamed(claim), make_key(), max_size=MAX_SIZE)
    assert report.reasons == (detail,)


def test_invalid_name_and_version_are_both_reported(
    make_claim: MakeClaim, make_key: MakeKey
) -> None:
    """A bad package name and a bad version are both reported in the package-name check."""
    claim = make_claim(plugin="@Acme/Plugin", version="2.3")
    report = verify_artifact(claim, streamed(claim), make_key(), max_size=MAX_SIZE)
    assert failed(report) == ["package-name"]
    assert check(report, CheckName.PACKAGE_NAME).detail == (
        "'@Acme/Plugin': name has uppercase letters; version '2.3': "
        "not an exact semantic version (MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD])"
    )


def test_everything_wrong_lists_every_reason(make_claim: MakeClaim) -> None:
    """When all checks fail, the report gives five reasons in check order."""
    claim = make_claim(plugin="Bad Name", signature=b"")
    report = verify_artifact(claim, streamed(claim, b"short"), None, max_size=MAX_SIZE)
    assert report.verdict is Verdict.REJECTED
    assert len(report.reasons) == 5


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tenant_id": " "}, "invalid artifact tenant_id: must not be empty"),
        ({"size": -1}, "invalid artifact size: must be a byte count >= 0, got -1"),
        ({"size": True}, "invalid artifact size: must be a byte count >= 0, got True"),
    ],
)
def test_unverifiable_claim_is_refused(
    make_claim: MakeClaim, overrides: dict[str, object], message: str
) -> None:
    """A claim without a tenant or with a negative size cannot even be judged."""
    with pytest.raises(InvalidArtifactError, match=message):
        make_claim(**overrides)


def test_non_positive_size_limit_is_a_programming_error(
    make_claim: MakeClaim, make_key: MakeKey
) -> None:
    """A size limit of zero is refused rather than rejecting every artifact."""
    claim = make_claim()
    with pytest.raises(ValueError, match="max_size must be positive"):
        verify_artifact(claim, streamed(claim), make_key(), max_size=0)
