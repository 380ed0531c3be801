"""Ed25519 signing keys and their rotation.

A key signs from `created_at` until `not_after`. A successor is created
`rotate_before` ahead of that, and from then on the newest key signs. A key
stays published in the JWKS until `not_after + overlap` (at least the longest
token lifetime), so tokens it signed keep verifying; after that it is retired.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)
from joserfc.jwk import OKPKey

from portico_auth.errors import SigningKeyError
from portico_common.grpc.tokens import ALGORITHM


@dataclass(frozen=True)
class KeyPolicy:
    lifetime: timedelta = timedelta(days=30)
    rotate_before: timedelta = timedelta(days=1)
    # Published this long after not_after: the longest token lifetime plus clock skew.
    overlap: timedelta = timedelta(hours=1, minutes=5)

    def __post_init__(self) -> None:
        if not timedelta(0) < self.rotate_before < self.lifetime:
            raise ValueError("a key's rotate_before must be positive and shorter than lifetime")


@dataclass(frozen=True)
class SigningKey:
    """One Ed25519 key pair; `kid` is its RFC 7638 thumbprint."""

    kid: str
    created_at: datetime
    not_after: datetime
    jwk: OKPKey = field(repr=False, compare=False)

    @classmethod
    def generate(cls, now: datetime, policy: KeyPolicy) -> SigningKey:
        return cls.from_private_bytes(
            _raw(Ed25519PrivateKey.generate()), created_at=now, not_after=now + policy.lifetime
        )

    @classmethod
    def from_private_bytes(
        cls, raw: bytes, *, created_at: datetime, not_after: datetime, kid: str | None = None
    ) -> SigningKey:
        """Rebuilds a stored key; a `kid` that does not match the key is corruption."""
        try:
            jwk = OKPKey.import_key(Ed25519PrivateKey.from_private_bytes(raw))
        except ValueError as exc:
            raise SigningKeyError(f"stored signing key {kid!r} is not an Ed25519 key") from exc
        thumbprint = jwk.thumbprint()
        if kid is not None and kid != thumbprint:
            raise SigningKeyError(f"stored signing key {kid!r} does not match its key id")
        return cls(thumbprint, created_at, not_after, jwk)

    def private_bytes(self) -> bytes:
        private = self.jwk.private_key
        if not isinstance(private, Ed25519PrivateKey):  # pragma: no cover - built from one
            raise SigningKeyError(f"signing key {self.kid} has no Ed25519 private key")
        return _raw(private)

    def public_jwk(self) -> dict[str, str]:
        """The public half as a JWK (RFC 7517/8037) for the JWKS."""
        public = self.jwk.as_dict(private=False)
        return {
            "kty": str(public["kty"]),
            "crv": str(public["crv"]),
            "x": str(public["x"]),
            "kid": self.kid,
            "alg": ALGORITHM,
            "use": "sig",
        }

    def signs_at(self, now: datetime) -> bool:
        return self.created_at <= now < self.not_after

    def published_at(self, now: datetime, policy: KeyPolicy) -> bool:
        return now < self.not_after + policy.overlap


def _raw(private: Ed25519PrivateKey) -> bytes:
    return private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def active_key(keys: Sequence[SigningKey], now: datetime) -> SigningKey | None:
    """The key that signs now: the newest one inside its signing window."""
    candidates = [k for k in keys if k.signs_at(now)]
    return max(candidates, key=lambda k: (k.created_at, k.kid), default=None)


def needs_new_key(keys: Sequence[SigningKey], now: datetime, policy: KeyPolicy) -> bool:
    """True when no key signs now, or the one that does is due for a successor."""
    active = active_key(keys, now)
    return active is None or active.not_after - now <= policy.rotate_before


def published_keys(
    keys: Sequence[SigningKey], now: datetime, policy: KeyPolicy
) -> list[SigningKey]:
    """Every key not yet retired, newest first: what the JWKS serves."""
    live = [k for k in keys if k.published_at(now, policy)]
    return sorted(live, key=lambda k: (k.created_at, k.kid), reverse=True)


def retired_keys(keys: Sequence[SigningKey], now: datetime, policy: KeyPolicy) -> list[SigningKey]:
    return [k for k in keys if not k.published_at(now, policy)]
