"""ECDSA P-256 publisher keys: loading, wrong key types, and signatures over the npm message."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from portico_security.verification.domain.signatures import (
    KeyAlgorithm,
    canonical_pem,
    load_public_key,
    signed_message,
    verify_signature,
)
from portico_security.verification.errors import InvalidPublicKeyError

MESSAGE = signed_message("@acme/plugin", "1.0.0", "sha512-abc")


def pem_of(private: ec.EllipticCurvePrivateKey | Ed25519PrivateKey) -> str:
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


@pytest.fixture
def p256() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def test_p256_signature_over_the_message_verifies(p256: ec.EllipticCurvePrivateKey) -> None:
    """A DER ECDSA/SHA-256 signature by the P-256 key over the npm message verifies."""
    key = load_public_key(pem_of(p256), KeyAlgorithm.ECDSA_P256)
    signature = p256.sign(MESSAGE, ec.ECDSA(hashes.SHA256()))
    assert verify_signature(key, MESSAGE, signature)


def test_p256_signature_over_other_content_fails(p256: ec.EllipticCurvePrivateKey) -> None:
    """A signature made over another version's message does not verify this one."""
    key = load_public_key(pem_of(p256), KeyAlgorithm.ECDSA_P256)
    other = signed_message("@acme/plugin", "1.0.1", "sha512-abc")
    signature = p256.sign(other, ec.ECDSA(hashes.SHA256()))
    assert not verify_signature(key, MESSAGE, signature)


@pytest.mark.parametrize("signature", [b"", b"\x30\x00", b"\x00" * 64, b"garbage" * 20])
def test_malformed_ecdsa_signature_is_false_not_an_error(
    p256: ec.EllipticCurvePrivateKey, signature: bytes
) -> None:
    """Empty, truncated or non-DER signatures are simply not valid; nothing raises."""
    key = load_public_key(pem_of(p256), KeyAlgorithm.ECDSA_P256)
    assert not verify_signature(key, MESSAGE, signature)


def test_p384_key_is_refused_as_p256() -> None:
    """An EC key on another curve is refused, naming the curve it is on."""
    pem = pem_of(ec.generate_private_key(ec.SECP384R1()))
    with pytest.raises(InvalidPublicKeyError, match=r"expected an ECDSA P-256 key.*secp384r1"):
        load_public_key(pem, KeyAlgorithm.ECDSA_P256)


def test_ed25519_key_is_refused_as_p256() -> None:
    """An Ed25519 key registered as ECDSA P-256 is refused (wrong key type)."""
    with pytest.raises(InvalidPublicKeyError, match="expected an ECDSA P-256 key, got"):
        load_public_key(pem_of(Ed25519PrivateKey.generate()), KeyAlgorithm.ECDSA_P256)


def test_p256_key_is_refused_as_ed25519(p256: ec.EllipticCurvePrivateKey) -> None:
    """A P-256 key registered as Ed25519 is refused, naming its curve."""
    with pytest.raises(InvalidPublicKeyError, match=r"expected an Ed25519 key.*secp256r1"):
        load_public_key(pem_of(p256), KeyAlgorithm.ED25519)


def test_p256_pem_is_canonicalised(p256: ec.EllipticCurvePrivateKey) -> None:
    """A P-256 PEM with CRLF line endings is stored as cryptography's canonical PEM."""
    pem = pem_of(p256)
    assert canonical_pem(pem.replace("\n", "\r\n"), KeyAlgorithm.ECDSA_P256) == pem


def test_ed25519_signature_does_not_verify_under_a_p256_key(
    p256: ec.EllipticCurvePrivateKey,
) -> None:
    """A signature by another key type's key is just an invalid signature here."""
    key = load_public_key(pem_of(p256), KeyAlgorithm.ECDSA_P256)
    assert not verify_signature(key, MESSAGE, Ed25519PrivateKey.generate().sign(MESSAGE))
