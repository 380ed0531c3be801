"""Publisher keys and the Ed25519 / ECDSA P-256 signatures they make over an artifact's identity.

The signed message is npm's registry-signature message, `NAME@VERSION:INTEGRITY`,
so a signature binds the exact bytes (through the integrity) to the name and
version they are published as. All cryptography is `cryptography`'s.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ec import (
    ECDSA,
    SECP256R1,
    EllipticCurvePublicKey,
)
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.asymmetric.x448 import X448PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from portico_security.verification.errors import (
    InvalidPublicKeyError,
    InvalidPublisherKeyError,
    UnsupportedKeyAlgorithmError,
)

ED25519_SIGNATURE_SIZE = 64
MAX_KEY_ID_LENGTH = 256
_PEM_LABEL = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----")
# Key ids appear in logs, URLs and events; printable ASCII without spaces
# covers npm's (`SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA`).
_KEY_ID = re.compile(r"[\x21-\x7e]+")


class KeyAlgorithm(StrEnum):
    """Signature algorithms a publisher key may use."""

    ED25519 = "ed25519"
    ECDSA_P256 = "ecdsa-p256"


VerifyingKey = Ed25519PublicKey | EllipticCurvePublicKey
_ECDSA_SHA256 = ECDSA(hashes.SHA256())


@dataclass(frozen=True, slots=True)
class PublisherKey:
    """A publisher's registered public key; every field is validated on construction."""

    tenant_id: str
    publisher: str
    key_id: str
    algorithm: KeyAlgorithm
    public_key_pem: str
    created_at: datetime
    # Lifecycle (see domain/keys.py): the key vouches only for artifacts
    # published before `expires_at`, and for nothing once revoked.
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    revocation_reason: str = ""
    replaced_by: str = ""

    def __post_init__(self) -> None:
        for name in ("tenant_id", "publisher", "key_id"):
            if not getattr(self, name).strip():
                raise InvalidPublisherKeyError(name, "must not be empty")
        if len(self.key_id) > MAX_KEY_ID_LENGTH or not _KEY_ID.fullmatch(self.key_id):
            raise InvalidPublisherKeyError(
                "key_id",
                f"must be 1 to {MAX_KEY_ID_LENGTH} printable ASCII characters without spaces",
            )
        if self.created_at.utcoffset() is None:
            # A naive time is ambiguous once stored and compared across hosts.
            raise InvalidPublisherKeyError("created_at", "must be a timezone-aware datetime")
        for name in ("expires_at", "revoked_at"):
            moment = getattr(self, name)
            if moment is not None and moment.utcoffset() is None:
                raise InvalidPublisherKeyError(name, "must be a timezone-aware datetime")
        object.__setattr__(self, "algorithm", key_algorithm(self.algorithm))
        load_public_key(self.public_key_pem, self.algorithm)

    def public_key(self) -> VerifyingKey:
        """The key itself, ready to verify with (parsed once per distinct key, then cached)."""
        return _cached_public_key(self.public_key_pem, self.algorithm)


# Loading validates the point on the curve, which costs more than an ECDSA
# verify; a record's PEM was validated when it was built, so reuse the object.
# Bounded, because PEMs arrive in requests.
@functools.lru_cache(maxsize=512)
def _cached_public_key(pem: str, algorithm: KeyAlgorithm) -> VerifyingKey:
    return load_public_key(pem, algorithm)


def key_algorithm(algorithm: KeyAlgorithm | str) -> KeyAlgorithm:
    """Return `algorithm` as a KeyAlgorithm, or raise UnsupportedKeyAlgorithmError."""
    try:
        return KeyAlgorithm(algorithm)
    except ValueError:
        supported = tuple(member.value for member in KeyAlgorithm)
        raise UnsupportedKeyAlgorithmError(str(algorithm), supported) from None


def load_public_key(pem: str, algorithm: KeyAlgorithm | str = KeyAlgorithm.ED25519) -> VerifyingKey:
    """Load an `algorithm` public key from PEM SubjectPublicKeyInfo ("PUBLIC KEY").

    Raises UnsupportedKeyAlgorithmError for another algorithm and
    InvalidPublicKeyError, saying what was found instead, for anything else
    (including a valid key of another type than `algorithm` names).
    """
    chosen = key_algorithm(algorithm)
    labels = _PEM_LABEL.findall(pem)
    if not labels:
        raise InvalidPublicKeyError("not PEM: no '-----BEGIN PUBLIC KEY-----' block found")
    if len(labels) > 1:
        # Which block would be trusted must not depend on a parser's choice.
        raise InvalidPublicKeyError(f"expected exactly one PEM block, found {len(labels)}")
    (label,) = labels
    if label != "PUBLIC KEY":
        raise InvalidPublicKeyError(_wrong_label(label))
    try:
        key = serialization.load_pem_public_key(pem.encode("utf-8"))
    except (ValueError, UnsupportedAlgorithm) as error:
        raise InvalidPublicKeyError(f"the PUBLIC KEY block does not decode: {error}") from None
    return check_key_type(key, chosen)


def check_key_type(key: object, algorithm: KeyAlgorithm) -> VerifyingKey:
    """`key` if it is a key of `algorithm`, else InvalidPublicKeyError naming what it is."""
    if algorithm is KeyAlgorithm.ED25519:
        if not isinstance(key, Ed25519PublicKey):
            raise InvalidPublicKeyError(f"expected an Ed25519 key, got {_describe(key)}")
        return key
    if not isinstance(key, EllipticCurvePublicKey) or not isinstance(key.curve, SECP256R1):
        raise InvalidPublicKeyError(f"expected an ECDSA P-256 key, got {_describe(key)}")
    return key


def canonical_pem(pem: str, algorithm: KeyAlgorithm | str = KeyAlgorithm.ED25519) -> str:
    """The key in `pem`, re-encoded as the one PEM `cryptography` writes for it.

    Stored keys are canonical, so the same key registered with other line
    endings or trailing text is recognisably the same key.
    """
    return (
        load_public_key(pem, algorithm)
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def same_key(first: PublisherKey, second: PublisherKey) -> bool:
    """Whether two records hold the same public key (compared as DER, not as PEM text)."""

    def der(key: PublisherKey) -> bytes:
        return key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    return first.algorithm == second.algorithm and der(first) == der(second)


def _wrong_label(label: str) -> str:
    if "PRIVATE KEY" in label:
        return f"this is a private key ({label}); register only the public key"
    if label == "RSA PUBLIC KEY":
        return "a PKCS#1 RSA key; expected a 'PUBLIC KEY' (SubjectPublicKeyInfo)"
    if label == "CERTIFICATE":
        return "a certificate; expected a bare 'PUBLIC KEY' (SubjectPublicKeyInfo)"
    return f"a {label!r} block; expected 'PUBLIC KEY' (SubjectPublicKeyInfo)"


def _describe(key: object) -> str:
    if isinstance(key, RSAPublicKey):
        return f"an RSA-{key.key_size} key"
    if isinstance(key, EllipticCurvePublicKey):
        return f"an elliptic-curve key on {key.curve.name}"
    if isinstance(key, Ed448PublicKey):
        return "an Ed448 key"
    if isinstance(key, X25519PublicKey | X448PublicKey):
        return "a key-agreement key, which cannot sign"
    return f"a key of type {type(key).__name__}"


def signed_message(name: str, version: str, integrity: str) -> bytes:
    """npm's registry-signature message for a package version: `NAME@VERSION:INTEGRITY`."""
    return f"{name}@{version}:{integrity}".encode()


def verify_signature(key: PublisherKey | VerifyingKey, message: bytes, signature: bytes) -> bool:
    """Whether `signature` is `key`'s signature of `message`.

    Ed25519 signatures are the raw 64 bytes; ECDSA P-256 ones are DER over
    SHA-256, as npm's registry and OpenSSL write them. Never raises for a
    bad, empty, malformed or wrongly sized signature: that is False.
    """
    public_key = key.public_key() if isinstance(key, PublisherKey) else key
    try:
        if isinstance(public_key, Ed25519PublicKey):
            public_key.verify(signature, message)
        else:
            public_key.verify(signature, message, _ECDSA_SHA256)
    except (InvalidSignature, ValueError):
        return False
    return True
