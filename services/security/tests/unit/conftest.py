"""Fixtures for the security unit tests: key pairs, key records, verification in memory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from portico_common.clock import ManualClock
from portico_security.testing.artifacts import Publisher
from portico_security.testing.world import MemoryWorld
from portico_security.verification.adapters.memory import VerificationMemoryStore
from portico_security.verification.app.commands import RegisterPublisherKey
from portico_security.verification.app.keys import register_publisher_key
from portico_security.verification.app.ports import VerificationUowFactory
from portico_security.verification.domain.signatures import KeyAlgorithm, PublisherKey

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


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def world(clock: ManualClock) -> MemoryWorld:
    """The service's in-memory adapters, one store per context, on the test's clock."""
    return MemoryWorld(clock)


@pytest.fixture
def store(world: MemoryWorld) -> VerificationMemoryStore:
    """Committed state of verification's in-memory adapters: keys, decisions, emitted events."""
    return world.verification


@pytest.fixture
def uow(store: VerificationMemoryStore) -> VerificationUowFactory:
    return store.uow_factory()


@pytest.fixture
def publisher() -> Publisher:
    """Acme's publisher, whose public key the `registered` fixture trusts for tenant acme."""
    return Publisher(name="acme", key_id="acme-2026")


@pytest.fixture
async def registered(uow: VerificationUowFactory, publisher: Publisher) -> PublisherKey:
    return await register_publisher_key(
        uow,
        RegisterPublisherKey(
            tenant_id="acme",
            publisher=publisher.name,
            key_id=publisher.key_id,
            algorithm="ed25519",
            public_key_pem=publisher.public_key_pem,
        ),
    )
