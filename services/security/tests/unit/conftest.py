"""Fixtures for the security domain tests: a publisher's Ed25519 key pair and key records."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from portico_security.domain.signatures import KeyAlgorithm, PublisherKey

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

MakeKey = Callable[..., PublisherKey]


@pytest.fixture
def signing_key() -> Ed25519PrivateKey:
    """The publisher's private key (tests sign with it; the service never sees it)."""
    return Ed25519PrivateKey.generate()


@pytest.fixture
def publisher_pem(signing_key: Ed25519PrivateKey) -> str:
    """The SubjectPublicKeyInfo PEM of the publisher's public key, as registered."""
    return (
        signing_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


@pytest.fixture
def make_key(publisher_pem: str) -> MakeKey:
    """Build a PublisherKey for `signing_key`; keyword arguments override the defaults."""

    def make(**overrides: object) -> PublisherKey:
        fields: dict[str, object] = {
            "tenant_id": "acme",
            "publisher": "acme",
            "key_id": "acme-2026",
            "algorithm": KeyAlgorithm.ED25519,
            "public_key_pem": publisher_pem,
            "created_at": T0,
        }
        fields.update(overrides)
        return PublisherKey(**fields)  # type: ignore[arg-type]

    return make
