"""Publisher keys: loading only Ed25519 SPKI PEM, and verifying signatures without raising."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, rsa, x25519
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import NameOID

from portico_security.verification.domain.signatures import (
    KeyAlgorithm,
    PublisherKey,
    load_public_key,
    signed_message,
    verify_signature,
)
from portico_security.verification.errors import (
    InvalidPublicKeyError,
    InvalidPublisherKeyError,
    UnsupportedKeyAlgorithmError,
)

MakeKey = Callable[..., PublisherKey]
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo
PEM = serialization.Encoding.PEM
INTEGRITY = "sha512-" + "A" * 86 + "=="  # the message format does not care what the digest is


def spki(public_key: PublicKeyTypes) -> str:
    """The SubjectPublicKeyInfo PEM of any public key."""
    return public_key.public_bytes(PEM, SPKI).decode("ascii")


def test_signed_message_is_npm_format() -> None:
    """The signed message is `NAME@VERSION:INTEGRITY` in UTF-8, as npm's registry signs."""
    message = signed_message("@acme/plugin-cost-insights", "2.3.0", INTEGRITY)
    assert message == f"@acme/plugin-cost-insights@2.3.0:{INTEGRITY}".encode()


def test_load_ed25519_spki(signing_key: Ed25519PrivateKey, publisher_pem: str) -> None:
    """An Ed25519 SubjectPublicKeyInfo PEM loads as the same public key."""
    key = load_public_key(publisher_pem, KeyAlgorithm.ED25519)
    assert isinstance(key, Ed25519PublicKey)
    assert key == signing_key.public_key()


def test_load_accepts_algorithm_by_name(signing_key: Ed25519PrivateKey, publisher_pem: str) -> None:
    """The algorithm may be given as its string name."""
    assert load_public_key(publisher_pem, "ed25519") == signing_key.public_key()


@pytest.mark.parametrize(
    ("make_public", "found"),
    [
        (lambda: rsa.generate_private_key(65537, 2048).public_key(), "an RSA-2048 key"),
        (lambda: ec.generate_private_key(ec.SECP256R1()).public_key(), "on secp256r1"),
        (lambda: ed448.Ed448PrivateKey.generate().public_key(), "an Ed448 key"),
        (lambda: x25519.X25519PrivateKey.generate().public_key(), "key-agreement key"),
    ],
    ids=["rsa", "p256", "ed448", "x25519"],
)
def test_other_key_types_are_refused(make_public: Callable[[], PublicKeyTypes], found: str) -> None:
    """A valid SPKI PEM of another key type is refused, naming what it is."""
    pem = spki(make_public())
    with pytest.raises(InvalidPublicKeyError, match="expected an Ed25519 key, got") as caught:
        load_public_key(pem)
    assert found in str(caught.value)


def test_private_key_pem_is_refused(signing_key: Ed25519PrivateKey) -> None:
    """A private key PEM is refused with a warning to register only the public half."""
    pem = signing_key.private_bytes(
        PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    with pytest.raises(InvalidPublicKeyError, match="this is a private key"):
        load_public_key(pem)


def test_pkcs1_rsa_pem_is_refused() -> None:
    """An 'RSA PUBLIC KEY' (PKCS#1) PEM is refused as not SubjectPublicKeyInfo."""
    public = rsa.generate_private_key(65537, 2048).public_key()
    pem = public.public_bytes(PEM, serialization.PublicFormat.PKCS1).decode("ascii")
    with pytest.raises(InvalidPublicKeyError, match="PKCS#1 RSA key"):
        load_public_key(pem)


def test_certificate_pem_is_refused(signing_key: Ed25519PrivateKey) -> None:
    """A certificate is refused: a bare public key is expected."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "acme")])
    now = datetime(2026, 1, 1, tzinfo=UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(signing_key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(signing_key, None)
    )
    with pytest.raises(InvalidPublicKeyError, match="a certificate"):
        load_public_key(certificate.public_bytes(PEM).decode("ascii"))


@pytest.mark.parametrize(
    ("pem", "problem"),
    [
        ("", "not PEM"),
        ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAbc acme@laptop", "not PEM"),
        (
            "-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----\n",
            "the PUBLIC KEY block does not decode",
        ),
        (
            "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n",
            "the PUBLIC KEY block does not decode",
        ),
        (
            "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----",
            "a 'EC PARAMETERS' block",
        ),
    ],
    ids=["empty", "ssh", "garbage", "truncated", "other-label"],
)
def test_malformed_pem_is_refused(pem: str, problem: str) -> None:
    """Text that is not one well-formed PUBLIC KEY block is refused, saying what is wrong."""
    with pytest.raises(InvalidPublicKeyError, match=re.escape(problem)):
        load_public_key(pem)


def test_two_pem_blocks_are_refused(publisher_pem: str) -> None:
    """Two concatenated keys are refused rather than trusting whichever parses first."""
    other = spki(Ed25519PrivateKey.generate().public_key())
    with pytest.raises(InvalidPublicKeyError, match="exactly one PEM block, found 2"):
        load_public_key(publisher_pem + other)


def test_unsupported_algorithm_is_refused(publisher_pem: str) -> None:
    """Naming an algorithm other than ed25519 raises UnsupportedKeyAlgorithmError."""
    with pytest.raises(UnsupportedKeyAlgorithmError, match="'rsa-pss'; supported: ed25519"):
        load_public_key(publisher_pem, "rsa-pss")


def test_genuine_signature_verifies(signing_key: Ed25519PrivateKey, make_key: MakeKey) -> None:
    """A signature by the publisher's private key over the message verifies."""
    message = signed_message("@acme/plugin-a", "1.0.0", INTEGRITY)
    assert verify_signature(make_key(), message, signing_key.sign(message))
    assert verify_signature(signing_key.public_key(), message, signing_key.sign(message))


def test_signature_over_other_content_fails(
    signing_key: Ed25519PrivateKey, make_key: MakeKey
) -> None:
    """A genuine signature over another version does not verify this one."""
    other = signing_key.sign(signed_message("@acme/plugin-a", "1.0.1", INTEGRITY))
    assert not verify_signature(
        make_key(), signed_message("@acme/plugin-a", "1.0.0", INTEGRITY), other
    )


def test_signature_by_another_key_fails(make_key: MakeKey) -> None:
    """A signature by someone else's key does not verify under the publisher's key."""
    message = signed_message("@acme/plugin-a", "1.0.0", INTEGRITY)
    forged = Ed25519PrivateKey.generate().sign(message)
    assert not verify_signature(make_key(), message, forged)


@pytest.mark.parametrize("signature", [b"", b"\0" * 64, b"\x01" * 63, b"\x02" * 65])
def test_malformed_signature_is_false_not_error(make_key: MakeKey, signature: bytes) -> None:
    """Empty, zero or wrongly sized signatures return False instead of raising."""
    assert not verify_signature(make_key(), b"message", signature)


def test_publisher_key_normalises_algorithm_name(make_key: MakeKey) -> None:
    """A key built with the algorithm's string name holds the KeyAlgorithm member."""
    assert make_key(algorithm="ed25519").algorithm is KeyAlgorithm.ED25519


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"tenant_id": ""}, "invalid publisher key tenant_id: must not be empty"),
        ({"publisher": " "}, "invalid publisher key publisher: must not be empty"),
        ({"key_id": ""}, "invalid publisher key key_id: must not be empty"),
        ({"key_id": "my key"}, "without spaces"),
        ({"key_id": "k" * 257}, "1 to 256 printable ASCII"),
        ({"created_at": datetime(2026, 3, 1, 12, 0)}, "created_at: must be a timezone-aware"),  # noqa: DTZ001
    ],
)
def test_publisher_key_fields_are_validated(
    make_key: MakeKey, overrides: dict[str, object], problem: str
) -> None:
    """A key record with an empty id, a spaced id or a naive time is refused precisely."""
    with pytest.raises(InvalidPublisherKeyError, match=re.escape(problem)):
        make_key(**overrides)


def test_publisher_key_refuses_wrong_key_type(make_key: MakeKey) -> None:
    """A key record whose PEM is not Ed25519 cannot be built."""
    rsa_pem = spki(rsa.generate_private_key(65537, 2048).public_key())
    with pytest.raises(InvalidPublicKeyError, match="RSA-2048"):
        make_key(public_key_pem=rsa_pem)


def test_publisher_key_refuses_unknown_algorithm(make_key: MakeKey) -> None:
    """A key record naming an unsupported algorithm cannot be built."""
    with pytest.raises(UnsupportedKeyAlgorithmError):
        make_key(algorithm="rsa-pss")


def test_publisher_key_is_immutable(make_key: MakeKey) -> None:
    """A registered key cannot be altered in place."""
    key = make_key()
    with pytest.raises(AttributeError):
        key.key_id = "other"  # type: ignore[misc]
