"""What callers ask verification to do, as plain values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class RegisterPublisherKey:
    """Trust `public_key_pem` as `publisher`'s key `key_id` for one tenant."""

    tenant_id: str
    publisher: str
    key_id: str
    # A domain KeyAlgorithm value ("ed25519"); anything else is refused.
    algorithm: str
    public_key_pem: str
    # The key vouches only for artifacts published before this instant.
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RotatePublisherKey:
    """Replace `key_id` by a new key of the same publisher; the old one lasts `overlap` more."""

    tenant_id: str
    key_id: str
    new_key_id: str
    algorithm: str
    public_key_pem: str
    overlap: timedelta
    new_key_expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RevokePublisherKey:
    """Stop trusting `key_id` for anything, from now on."""

    tenant_id: str
    key_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class VerifyArtifact:
    """Decide whether `tarball` is what the claim says and was signed by a trusted key."""

    tenant_id: str
    plugin: str
    version: str
    # Kept out of repr: a tarball is up to tens of MiB and must not end up in logs.
    tarball: bytes = field(repr=False)
    integrity: str
    signature: bytes = field(repr=False)
    key_id: str
    # The registry's publish time of this version; None means "now".
    published_at: datetime | None = None
    # npm's registry signature (DER ECDSA P-256) and its keyid; empty: none sent.
    registry_signature: bytes = field(default=b"", repr=False)
    registry_key_id: str = ""
    # npm's attestations document ({"attestations": [...]}); empty: no provenance check.
    attestations: bytes = field(default=b"", repr=False)
