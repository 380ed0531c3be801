"""npm registry signatures: the keys document (npm's real one too), expiry as npm judges it,
and the registry-signature check of a verification."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from portico_security.verification.domain.integrity import IntegrityHasher, compute_sri
from portico_security.verification.domain.registry_signatures import (
    RegistryKeys,
    parse_registry_keys,
    registry_signature_problem,
)
from portico_security.verification.domain.signatures import signed_message
from portico_security.verification.domain.verification import (
    ArtifactClaim,
    CheckName,
    Verdict,
    verify_artifact,
)
from portico_security.verification.errors import InvalidRegistryKeysError

NPM_KEY_ID = "SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA"
NAME, VERSION = "@acme/plugin-cost-insights", "2.3.0"
PUBLISHED = datetime(2026, 1, 10, tzinfo=UTC)
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _corpus_keys_file() -> Path:
    """npm's keys document from the shared corpus, beside the repository root."""
    for folder in Path(__file__).resolve().parents:
        if (folder / "uv.lock").is_file():
            return (
                folder.parent
                / "shared"
                / "conformance"
                / "npm-provenance"
                / "npm-registry-keys.json"
            )
    raise FileNotFoundError("no uv.lock above this test; cannot locate the shared corpus")


def der_b64(private: ec.EllipticCurvePrivateKey) -> str:
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")


def document(*entries: dict[str, object]) -> str:
    return json.dumps({"keys": list(entries)})


def entry(
    private: ec.EllipticCurvePrivateKey, key_id: str = "SHA256:test", expires: str | None = None
) -> dict[str, object]:
    return {
        "expires": expires,
        "keyid": key_id,
        "keytype": "ecdsa-sha2-nistp256",
        "scheme": "ecdsa-sha2-nistp256",
        "key": der_b64(private),
    }


def sign(private: ec.EllipticCurvePrivateKey, name: str, version: str, integrity: str) -> bytes:
    return private.sign(signed_message(name, version, integrity), ec.ECDSA(hashes.SHA256()))


@pytest.fixture
def registry() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def keys(registry: ec.EllipticCurvePrivateKey) -> RegistryKeys:
    return parse_registry_keys(document(entry(registry, expires="2026-02-01T00:00:00.000Z")))


def problem(keys: RegistryKeys | None, signature: bytes, **overrides: object) -> str | None:
    fields: dict[str, object] = {
        "name": NAME,
        "version": VERSION,
        "integrity": "sha512-x",
        "key_id": "SHA256:test",
        "signature": signature,
        "published_at": PUBLISHED,
    }
    fields.update(overrides)
    return registry_signature_problem(keys, **fields)  # type: ignore[arg-type]


def test_npm_real_keys_document_parses() -> None:
    """npm's published keys document (the corpus copy) parses: one P-256 key with its expiry."""
    parsed = parse_registry_keys(_corpus_keys_file().read_bytes())
    (key,) = parsed.keys
    assert key.key_id == NPM_KEY_ID
    assert key.expires == datetime(2025, 1, 29, tzinfo=UTC)
    assert key.public_key.curve.name == "secp256r1"


def test_npm_real_key_has_expired_for_packages_published_after_it() -> None:
    """With npm's real key, a package published after 2025-01-29 is refused for expiry
    before any signature is checked."""
    parsed = parse_registry_keys(_corpus_keys_file().read_bytes())
    found = problem(parsed, b"\x30\x00", key_id=NPM_KEY_ID, published_at=NOW)
    assert found is not None
    assert "expired at 2025-01-29T00:00:00+00:00" in found


def test_signature_by_the_registry_key_verifies(
    registry: ec.EllipticCurvePrivateKey, keys: RegistryKeys
) -> None:
    """A registry signature over NAME@VERSION:INTEGRITY, published before expiry, verifies."""
    assert problem(keys, sign(registry, NAME, VERSION, "sha512-x")) is None


def test_key_is_valid_only_strictly_before_its_expiry(
    registry: ec.EllipticCurvePrivateKey, keys: RegistryKeys
) -> None:
    """Published exactly at `expires` is already too late, as in npm's check."""
    signature = sign(registry, NAME, VERSION, "sha512-x")
    expires = datetime(2026, 2, 1, tzinfo=UTC)
    assert problem(keys, signature, published_at=expires - timedelta(milliseconds=1)) is None
    found = problem(keys, signature, published_at=expires)
    assert found is not None
    assert "expired" in found


def test_key_without_expiry_never_expires(registry: ec.EllipticCurvePrivateKey) -> None:
    """`expires: null` means the key is valid for any publish time."""
    keys = parse_registry_keys(document(entry(registry)))
    far = datetime(2099, 1, 1, tzinfo=UTC)
    assert problem(keys, sign(registry, NAME, VERSION, "sha512-x"), published_at=far) is None


def test_unknown_keyid_is_named(registry: ec.EllipticCurvePrivateKey, keys: RegistryKeys) -> None:
    """A signature naming a keyid the registry does not publish is refused, naming known ones."""
    found = problem(keys, sign(registry, NAME, VERSION, "sha512-x"), key_id="SHA256:other")
    assert found == "unknown npm registry keyid 'SHA256:other' (known: SHA256:test)"


@pytest.mark.parametrize(
    ("name", "version", "integrity"),
    [
        (NAME, "2.3.1", "sha512-x"),
        ("@acme/other", VERSION, "sha512-x"),
        (NAME, VERSION, "sha512-y"),
    ],
)
def test_signature_over_other_content_fails(
    registry: ec.EllipticCurvePrivateKey,
    keys: RegistryKeys,
    name: str,
    version: str,
    integrity: str,
) -> None:
    """A genuine registry signature of another name, version or integrity does not verify."""
    found = problem(keys, sign(registry, name, version, integrity))
    assert found is not None
    assert "does not verify" in found


def test_signature_by_another_p256_key_fails(keys: RegistryKeys) -> None:
    """A signature by a key that is not the registry's fails under the registry's keyid."""
    impostor = ec.generate_private_key(ec.SECP256R1())
    found = problem(keys, sign(impostor, NAME, VERSION, "sha512-x"))
    assert found is not None
    assert "does not verify" in found


def test_no_configured_keys_is_a_precise_reason() -> None:
    """Without registry keys a registry signature cannot be judged, and says so."""
    assert problem(None, b"sig") == "no npm registry keys are configured"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not JSON"),
        ("[]", 'expected an object with a "keys" array'),
        ('{"keys": [1]}', r"keys\[0\] is not an object"),
        ('{"keys": [{"keyid": "k"}]}', r"keys\[0\].keytype must be a non-empty string"),
    ],
)
def test_malformed_keys_documents_are_refused(text: str, message: str) -> None:
    """A keys document that is not npm's format is refused with the exact problem."""
    with pytest.raises(InvalidRegistryKeysError, match=message):
        parse_registry_keys(text)


def test_other_key_types_are_refused(registry: ec.EllipticCurvePrivateKey) -> None:
    """A key document entry of another key type or scheme is refused, not guessed at."""
    bad = entry(registry) | {"keytype": "ed25519", "scheme": "ed25519"}
    with pytest.raises(InvalidRegistryKeysError, match="only ecdsa-sha2-nistp256"):
        parse_registry_keys(document(bad))


def test_key_material_of_another_type_is_refused() -> None:
    """An entry claiming P-256 but holding an Ed25519 key is refused."""
    der = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    bad = entry(ec.generate_private_key(ec.SECP256R1())) | {"key": base64.b64encode(der).decode()}
    with pytest.raises(InvalidRegistryKeysError, match="expected an ECDSA P-256 key"):
        parse_registry_keys(document(bad))


def test_undecodable_key_and_bad_expiry_are_refused(registry: ec.EllipticCurvePrivateKey) -> None:
    """Non-base64 key material and an expiry without a time zone are refused."""
    with pytest.raises(InvalidRegistryKeysError, match="key does not decode"):
        parse_registry_keys(document(entry(registry) | {"key": "!!!"}))
    with pytest.raises(InvalidRegistryKeysError, match="has no time zone"):
        parse_registry_keys(document(entry(registry, expires="2026-01-01T00:00:00")))


def test_duplicate_keyids_are_refused(registry: ec.EllipticCurvePrivateKey) -> None:
    """Two entries with one keyid would make the choice of key ambiguous."""
    with pytest.raises(InvalidRegistryKeysError, match="duplicate keyid"):
        parse_registry_keys(document(entry(registry), entry(registry)))


def _claim(tarball: bytes, signature: bytes, **overrides: object) -> ArtifactClaim:
    fields: dict[str, object] = {
        "tenant_id": "acme",
        "plugin": NAME,
        "version": VERSION,
        "integrity": compute_sri(tarball),
        "signature": b"",
        "key_id": "",
        "size": len(tarball),
        "published_at": PUBLISHED,
        "registry_signature": signature,
        "registry_key_id": "SHA256:test",
    }
    fields.update(overrides)
    return ArtifactClaim(**fields)  # type: ignore[arg-type]


def _registry_check(claim: ArtifactClaim, keys: RegistryKeys | None) -> tuple[bool, str]:
    hasher = IntegrityHasher(claim.integrity)
    hasher.update(b"tarball")
    report = verify_artifact(claim, hasher, None, max_size=1024, now=NOW, registry_keys=keys)
    (check,) = [c for c in report.checks if c.name == CheckName.REGISTRY_SIGNATURE]
    assert report.verdict is Verdict.REJECTED  # no publisher key in these claims
    return check.passed, check.detail


def test_verification_reports_a_good_registry_signature(
    registry: ec.EllipticCurvePrivateKey, keys: RegistryKeys
) -> None:
    """The verification report carries a passed registry-signature check for a genuine one."""
    integrity = compute_sri(b"tarball")
    claim = _claim(b"tarball", sign(registry, NAME, VERSION, integrity))
    assert _registry_check(claim, keys) == (
        True,
        "npm registry signature by 'SHA256:test' verifies",
    )


def test_verification_reports_an_expired_registry_key(
    registry: ec.EllipticCurvePrivateKey, keys: RegistryKeys
) -> None:
    """A package published after the registry key's expiry fails the registry-signature check."""
    integrity = compute_sri(b"tarball")
    claim = _claim(
        b"tarball",
        sign(registry, NAME, VERSION, integrity),
        published_at=datetime(2026, 2, 2, tzinfo=UTC),
    )
    passed, detail = _registry_check(claim, keys)
    assert not passed
    assert "expired at 2026-02-01" in detail


def test_registry_keyid_without_signature_is_rejected(keys: RegistryKeys) -> None:
    """A keyid sent without a signature fails the check instead of being ignored."""
    passed, detail = _registry_check(_claim(b"tarball", b""), keys)
    assert not passed
    assert detail == "registry keyid 'SHA256:test' was sent without a signature"


def test_no_registry_signature_means_no_registry_check(keys: RegistryKeys) -> None:
    """A claim without a registry signature or keyid runs no registry-signature check."""
    claim = _claim(b"tarball", b"", registry_key_id="")
    hasher = IntegrityHasher(claim.integrity)
    hasher.update(b"tarball")
    report = verify_artifact(claim, hasher, None, max_size=1024, now=NOW, registry_keys=keys)
    assert CheckName.REGISTRY_SIGNATURE not in [c.name for c in report.checks]
