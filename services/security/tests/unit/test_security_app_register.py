"""The register_publisher_key use case over in-memory adapters."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cryptography.hazmat.primitives import serialization

from portico_common.clock import ManualClock
from portico_common.errors import PorticoError
from portico_common.tenants import InvalidTenantIdError
from portico_security.testing.artifacts import Publisher
from portico_security.verification.adapters.memory import VerificationMemoryStore
from portico_security.verification.app.commands import RegisterPublisherKey
from portico_security.verification.app.keys import register_publisher_key
from portico_security.verification.app.ports import VerificationUowFactory
from portico_security.verification.domain.signatures import KeyAlgorithm, PublisherKey
from portico_security.verification.errors import (
    InvalidPublicKeyError,
    InvalidPublisherKeyError,
    InvalidRequestError,
    KeyAlreadyRegisteredError,
    UnsupportedKeyAlgorithmError,
)


def registration(publisher: Publisher, tenant_id: str = "acme") -> RegisterPublisherKey:
    return RegisterPublisherKey(
        tenant_id=tenant_id,
        publisher=publisher.name,
        key_id=publisher.key_id,
        algorithm="ed25519",
        public_key_pem=publisher.public_key_pem,
    )


async def test_key_is_registered_with_the_clock_time(
    uow: VerificationUowFactory,
    store: VerificationMemoryStore,
    clock: ManualClock,
    publisher: Publisher,
) -> None:
    """A valid Ed25519 key is stored for the tenant, stamped with the clock's time."""
    key = await register_publisher_key(uow, registration(publisher))

    assert key == PublisherKey(
        tenant_id="acme",
        publisher="acme",
        key_id="acme-2026",
        algorithm=KeyAlgorithm.ED25519,
        public_key_pem=publisher.public_key_pem,
        created_at=clock.now(),
    )
    assert store.state.keys == {("acme", "acme-2026"): key}
    # Registering a key is not a domain event (the catalog has none for it).
    assert store.sink.events == []


async def test_identical_registration_returns_the_stored_key(
    uow: VerificationUowFactory,
    store: VerificationMemoryStore,
    clock: ManualClock,
    publisher: Publisher,
) -> None:
    """Registering the same key again succeeds and returns the original record unchanged,
    so a retried call is harmless."""
    first = await register_publisher_key(uow, registration(publisher))
    registered_at = clock.now()
    clock.advance(3600)
    again = await register_publisher_key(uow, registration(publisher))

    assert again == first
    assert again.created_at == registered_at
    assert list(store.state.keys.values()) == [first]


async def test_same_key_in_other_pem_layout_counts_as_identical(
    uow: VerificationUowFactory, store: VerificationMemoryStore, publisher: Publisher
) -> None:
    """Keys compare by their bytes, not their text: CRLF line endings are the same key, and
    what is stored is the canonical PEM."""
    crlf = replace(
        registration(publisher), public_key_pem=publisher.public_key_pem.replace("\n", "\r\n")
    )
    first = await register_publisher_key(uow, crlf)
    again = await register_publisher_key(uow, registration(publisher))

    assert first.public_key_pem == publisher.public_key_pem
    assert again == first


async def test_key_id_taken_by_another_key_is_already_exists(
    uow: VerificationUowFactory, store: VerificationMemoryStore, publisher: Publisher
) -> None:
    """A key id names one key forever: registering a different key under it fails with
    ALREADY_EXISTS and leaves the original in place."""
    original = await register_publisher_key(uow, registration(publisher))
    rival = Publisher(name="acme", key_id=publisher.key_id)

    with pytest.raises(KeyAlreadyRegisteredError, match="with a different key") as raised:
        await register_publisher_key(uow, registration(rival))

    assert raised.value.code == "ALREADY_EXISTS"
    assert store.state.keys == {("acme", "acme-2026"): original}


async def test_same_key_for_another_publisher_is_already_exists(
    uow: VerificationUowFactory, publisher: Publisher
) -> None:
    """Re-registering the key id and key under another publisher name is a conflict too,
    and the error names the publisher on record."""
    await register_publisher_key(uow, registration(publisher))

    with pytest.raises(KeyAlreadyRegisteredError, match=r"with another publisher \('acme'\)"):
        await register_publisher_key(
            uow, replace(registration(publisher), publisher="acme-impostor")
        )


async def test_key_ids_are_per_tenant(
    uow: VerificationUowFactory, store: VerificationMemoryStore, publisher: Publisher
) -> None:
    """Another tenant may use the same key id for its own key; neither sees the other's."""
    mine = await register_publisher_key(uow, registration(publisher))
    theirs = Publisher(name="globex", key_id=publisher.key_id)
    other = await register_publisher_key(uow, registration(theirs, tenant_id="globex"))

    assert store.state.keys == {("acme", "acme-2026"): mine, ("globex", "acme-2026"): other}
    async with uow("globex") as tx:
        assert await tx.publisher_keys.get("acme", "acme-2026") is None


BAD_REGISTRATIONS = {
    "not-pem": ({"public_key_pem": "hello"}, InvalidPublicKeyError, "not PEM"),
    "rsa": ({"algorithm": "rsa"}, UnsupportedKeyAlgorithmError, "'rsa'"),
    "unspecified-algorithm": (
        {"algorithm": "KEY_ALGORITHM_UNSPECIFIED"},
        UnsupportedKeyAlgorithmError,
        "'KEY_ALGORITHM_UNSPECIFIED'",
    ),
    "key-id-with-space": ({"key_id": "has space"}, InvalidPublisherKeyError, "key_id"),
    "blank-publisher": ({"publisher": " "}, InvalidPublisherKeyError, "publisher"),
    "all-tenants-marker": ({"tenant_id": "*"}, InvalidTenantIdError, "tenant_id"),
    "nul-in-publisher": ({"publisher": "a\x00b"}, InvalidRequestError, "NUL"),
    "huge-pem": ({"public_key_pem": "x" * 20000}, InvalidRequestError, "the limit is 16384"),
}


@pytest.mark.parametrize("case", BAD_REGISTRATIONS.values(), ids=BAD_REGISTRATIONS.keys())
async def test_bad_registration_is_refused_and_stores_nothing(
    uow: VerificationUowFactory,
    store: VerificationMemoryStore,
    publisher: Publisher,
    case: tuple[dict[str, str], type[PorticoError], str],
) -> None:
    """Anything but a well-formed Ed25519 public key record is an INVALID_ARGUMENT error
    saying what is wrong, and nothing is stored."""
    change, error, message = case
    with pytest.raises(error, match=message) as raised:
        await register_publisher_key(uow, replace(registration(publisher), **change))

    assert raised.value.code == "INVALID_ARGUMENT"
    assert store.state.keys == {}


async def test_private_key_is_refused(
    uow: VerificationUowFactory, store: VerificationMemoryStore, publisher: Publisher
) -> None:
    """Pasting the private key by mistake is refused with a message saying so, not stored."""
    private = publisher.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")

    with pytest.raises(InvalidPublicKeyError, match="this is a private key"):
        await register_publisher_key(uow, replace(registration(publisher), public_key_pem=private))

    assert store.state.keys == {}
