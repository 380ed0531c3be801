"""Publisher key lifecycle: rotation with an overlap window, expiry and revocation, judged at
the artifact's publish time, through the use cases over the in-memory adapters."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from portico_common.clock import ManualClock
from portico_security.testing.artifacts import Publisher, SignedArtifact, npm_tarball
from portico_security.verification.adapters.memory import VerificationMemoryStore
from portico_security.verification.app.commands import RegisterPublisherKey, VerifyArtifact
from portico_security.verification.app.keys import (
    RevokePublisherKey,
    RotatePublisherKey,
    list_publisher_keys,
    register_publisher_key,
    revoke_publisher_key,
    rotate_publisher_key,
)
from portico_security.verification.app.ports import VerificationUowFactory
from portico_security.verification.app.verify import verify_artifact
from portico_security.verification.domain import keys as lifecycle
from portico_security.verification.domain.decisions import Verification
from portico_security.verification.domain.integrity import compute_sri
from portico_security.verification.domain.signatures import (
    KeyAlgorithm,
    PublisherKey,
    signed_message,
)
from portico_security.verification.domain.verification import CheckName, Verdict
from portico_security.verification.errors import (
    InvalidPublicKeyError,
    InvalidRequestError,
    KeyAlreadyRegisteredError,
    KeyRotationError,
    UnknownKeyError,
)

from .conftest import T0, MakeKey

PLUGIN = "@acme/plugin-cost-insights"
MAX = 1024 * 1024
DAY = timedelta(days=1)


class EcdsaPublisher:
    """A publisher with an ECDSA P-256 key, signing npm's message as DER over SHA-256."""

    def __init__(self, key_id: str) -> None:
        self.key_id = key_id
        self.private_key = ec.generate_private_key(ec.SECP256R1())

    @property
    def public_key_pem(self) -> str:
        return (
            self.private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
        )

    def publish(self, plugin: str, version: str) -> SignedArtifact:
        tarball = npm_tarball(plugin, version)
        integrity = compute_sri(tarball)
        signature = self.private_key.sign(
            signed_message(plugin, version, integrity), ec.ECDSA(hashes.SHA256())
        )
        return SignedArtifact(plugin, version, tarball, integrity, signature, self.key_id)


def command(artifact: SignedArtifact, **overrides: object) -> VerifyArtifact:
    fields: dict[str, object] = {
        "tenant_id": "acme",
        "plugin": artifact.plugin,
        "version": artifact.version,
        "tarball": artifact.tarball,
        "integrity": artifact.integrity,
        "signature": artifact.signature,
        "key_id": artifact.key_id,
    }
    fields.update(overrides)
    return VerifyArtifact(**fields)  # type: ignore[arg-type]


def failed(verification: Verification) -> dict[str, str]:
    return {c.name: c.detail for c in verification.report.checks if not c.passed}


async def register(
    uow: VerificationUowFactory, key_id: str, pem: str, algorithm: str = "ed25519", **extra: object
) -> PublisherKey:
    return await register_publisher_key(
        uow,
        RegisterPublisherKey(
            tenant_id="acme",
            publisher="acme",
            key_id=key_id,
            algorithm=algorithm,
            public_key_pem=pem,
            **extra,  # type: ignore[arg-type]
        ),
    )


def rotation(new: Publisher | EcdsaPublisher, overlap: timedelta = 7 * DAY) -> RotatePublisherKey:
    return RotatePublisherKey(
        tenant_id="acme",
        key_id="acme-2026",
        new_key_id=new.key_id,
        algorithm="ed25519" if isinstance(new, Publisher) else "ecdsa-p256",
        public_key_pem=new.public_key_pem,
        overlap=overlap,
    )


# --- the domain rule -------------------------------------------------------------------


def test_revoked_key_vouches_for_nothing_whatever_the_publish_time(make_key: MakeKey) -> None:
    """A revoked key fails even for artifacts published long before the revocation."""
    key = lifecycle.revoke(make_key(), T0 + DAY, "leaked")
    problem = lifecycle.key_problem(key, T0 - 365 * DAY)
    assert problem == f"publisher key 'acme-2026' was revoked at {(T0 + DAY).isoformat()} (leaked)"


def test_expired_key_vouches_only_before_its_expiry(make_key: MakeKey) -> None:
    """An expired key is valid for artifacts published strictly before its expiry."""
    key = make_key(expires_at=T0)
    assert lifecycle.key_problem(key, T0 - timedelta(seconds=1)) is None
    problem = lifecycle.key_problem(key, T0)
    assert problem is not None
    assert problem.startswith("publisher key 'acme-2026' expired at")


def test_revoking_twice_keeps_the_first_revocation(make_key: MakeKey) -> None:
    """Revocation is idempotent: the first time and reason stay."""
    once = lifecycle.revoke(make_key(), T0, "first")
    assert lifecycle.revoke(once, T0 + DAY, "second") is once


def test_rotation_never_extends_an_earlier_expiry(make_key: MakeKey) -> None:
    """An old key that expires before the overlap ends keeps its own, earlier expiry."""
    old = make_key(expires_at=T0 + DAY)
    new = make_key(key_id="acme-2027")
    assert lifecycle.rotate(old, new, T0, 30 * DAY).expires_at == T0 + DAY


@pytest.mark.parametrize(
    ("old_overrides", "new_overrides", "message"),
    [
        ({"revoked_at": T0}, {}, "it is revoked"),
        ({"replaced_by": "acme-x"}, {}, "already replaced by 'acme-x'"),
        ({"expires_at": T0}, {}, "it expired at"),
        ({}, {"key_id": "acme-2026"}, "must have another key id"),
        ({}, {"publisher": "evil"}, "publisher 'evil' is not 'acme'"),
    ],
)
def test_rotation_refusals_are_precise(
    make_key: MakeKey,
    old_overrides: dict[str, object],
    new_overrides: dict[str, object],
    message: str,
) -> None:
    """A rotation that makes no sense is refused, saying why."""
    old = make_key(**old_overrides)
    new = make_key(**({"key_id": "acme-2027"} | new_overrides))
    with pytest.raises(KeyRotationError, match=message):
        lifecycle.rotate(old, new, T0, DAY)


# --- the use cases ----------------------------------------------------------------------


@pytest.fixture
async def old_publisher(uow: VerificationUowFactory) -> Publisher:
    publisher = Publisher(name="acme", key_id="acme-2026")
    await register(uow, publisher.key_id, publisher.public_key_pem)
    return publisher


async def test_rotation_keeps_the_old_key_valid_through_the_overlap(
    uow: VerificationUowFactory, clock: ManualClock, old_publisher: Publisher
) -> None:
    """After a rotation the old key still verifies artifacts published within the overlap,
    and the new key verifies at once."""
    new = EcdsaPublisher("acme-2027")
    rotated = await rotate_publisher_key(uow, rotation(new))
    assert rotated.old_key.expires_at == T0 + 7 * DAY
    assert rotated.old_key.replaced_by == "acme-2027"
    assert rotated.new_key.algorithm is KeyAlgorithm.ECDSA_P256
    clock.advance(days=1)
    old_artifact = old_publisher.publish(PLUGIN, "2.3.0")
    assert (await verify_artifact(uow, command(old_artifact), max_size=MAX)).verdict is (
        Verdict.VERIFIED
    )
    new_artifact = new.publish(PLUGIN, "2.4.0")
    assert (await verify_artifact(uow, command(new_artifact), max_size=MAX)).verdict is (
        Verdict.VERIFIED
    )


async def test_after_the_overlap_the_old_key_fails_for_new_publications(
    uow: VerificationUowFactory, clock: ManualClock, old_publisher: Publisher
) -> None:
    """Once the overlap has passed, an artifact published after it and signed by the old
    key is rejected for expiry."""
    await rotate_publisher_key(uow, rotation(EcdsaPublisher("acme-2027")))
    clock.advance(days=8)
    artifact = old_publisher.publish(PLUGIN, "2.5.0")
    verification = await verify_artifact(uow, command(artifact), max_size=MAX)
    assert verification.verdict is Verdict.REJECTED
    assert "expired at" in failed(verification)[CheckName.PUBLISHER_KEY]


async def test_old_version_published_before_expiry_still_verifies(
    uow: VerificationUowFactory, clock: ManualClock, old_publisher: Publisher
) -> None:
    """An old version published before the old key's expiry verifies later, at its publish time."""
    artifact = old_publisher.publish(PLUGIN, "2.3.0")
    await rotate_publisher_key(uow, rotation(EcdsaPublisher("acme-2027")))
    clock.advance(days=30)
    verification = await verify_artifact(
        uow, command(artifact, published_at=T0 - DAY), max_size=MAX
    )
    assert verification.verdict is Verdict.VERIFIED


async def test_publish_time_in_the_future_is_rejected(
    uow: VerificationUowFactory, old_publisher: Publisher
) -> None:
    """A claimed publish time after the verification time fails the published-at check."""
    artifact = old_publisher.publish(PLUGIN, "2.3.0")
    verification = await verify_artifact(
        uow, command(artifact, published_at=T0 + DAY), max_size=MAX
    )
    assert verification.verdict is Verdict.REJECTED
    assert "is in the future" in failed(verification)[CheckName.PUBLISHED_AT]


async def test_revoked_key_fails_even_for_a_backdated_publish_time(
    uow: VerificationUowFactory,
    clock: ManualClock,
    store: VerificationMemoryStore,
    old_publisher: Publisher,
) -> None:
    """A replayed old version signed by a revoked key is rejected, whatever its publish time."""
    artifact = old_publisher.publish(PLUGIN, "2.3.0")
    revoked = await revoke_publisher_key(
        uow, RevokePublisherKey(tenant_id="acme", key_id="acme-2026", reason="leaked")
    )
    assert revoked.revoked_at == T0
    clock.advance(days=1)
    verification = await verify_artifact(
        uow, command(artifact, published_at=T0 - 100 * DAY), max_size=MAX
    )
    assert verification.verdict is Verdict.REJECTED
    assert failed(verification)[CheckName.PUBLISHER_KEY] == (
        f"publisher key 'acme-2026' was revoked at {T0.isoformat()} (leaked)"
    )
    assert failed(verification)[CheckName.SIGNATURE] == (
        "not verified: there is no usable publisher key"
    )


async def test_revoke_is_idempotent_and_keeps_the_first_reason(
    uow: VerificationUowFactory, clock: ManualClock, old_publisher: Publisher
) -> None:
    """Revoking a revoked key returns it as it was first revoked."""
    first = await revoke_publisher_key(
        uow, RevokePublisherKey(tenant_id="acme", key_id="acme-2026", reason="leaked")
    )
    clock.advance(days=1)
    again = await revoke_publisher_key(
        uow, RevokePublisherKey(tenant_id="acme", key_id="acme-2026", reason="other")
    )
    assert again == first


async def test_unknown_key_ids_are_not_found_and_change_nothing(
    uow: VerificationUowFactory, store: VerificationMemoryStore, old_publisher: Publisher
) -> None:
    """Rotating or revoking a key id the tenant does not have raises UnknownKeyError, and no
    key is stored or altered."""
    before = dict(store.state.keys)
    with pytest.raises(UnknownKeyError):
        await revoke_publisher_key(
            uow, RevokePublisherKey(tenant_id="acme", key_id="nope", reason="")
        )
    with pytest.raises(UnknownKeyError):
        await rotate_publisher_key(
            uow, replace(rotation(EcdsaPublisher("acme-2027")), key_id="nope")
        )
    assert store.state.keys == before
    assert store.sink.events == []


async def test_rotation_to_a_wrong_key_type_changes_nothing(
    uow: VerificationUowFactory, store: VerificationMemoryStore, old_publisher: Publisher
) -> None:
    """A rotation whose new key is an Ed25519 PEM labelled ECDSA P-256 is refused and the old
    key keeps no deadline."""
    bad = replace(
        rotation(EcdsaPublisher("acme-2027")),
        public_key_pem=Publisher(name="acme", key_id="x").public_key_pem,
    )
    with pytest.raises(InvalidPublicKeyError, match="expected an ECDSA P-256 key"):
        await rotate_publisher_key(uow, bad)
    assert list(store.state.keys) == [("acme", "acme-2026")]
    assert store.state.keys["acme", "acme-2026"].expires_at is None


async def test_rotation_onto_a_taken_key_id_changes_nothing(
    uow: VerificationUowFactory, store: VerificationMemoryStore, old_publisher: Publisher
) -> None:
    """Rotating onto an id that names another registered key is refused; both keys stay as
    they were."""
    other = EcdsaPublisher("acme-2027")
    await register(uow, other.key_id, other.public_key_pem, "ecdsa-p256")
    before = dict(store.state.keys)
    with pytest.raises(KeyAlreadyRegisteredError):
        await rotate_publisher_key(uow, rotation(EcdsaPublisher("acme-2027")))
    assert store.state.keys == before


async def test_repeating_a_rotation_returns_the_stored_pair(
    uow: VerificationUowFactory, clock: ManualClock, old_publisher: Publisher
) -> None:
    """A retried rotation (same new key) returns what the first one stored."""
    new = EcdsaPublisher("acme-2027")
    first = await rotate_publisher_key(uow, rotation(new))
    clock.advance(days=1)
    assert await rotate_publisher_key(uow, rotation(new)) == first


async def test_negative_or_huge_overlap_is_refused(
    uow: VerificationUowFactory, store: VerificationMemoryStore, old_publisher: Publisher
) -> None:
    """An overlap below zero or over a year is an invalid request."""
    for overlap in (-DAY, 400 * DAY):
        with pytest.raises(InvalidRequestError, match="overlap"):
            await rotate_publisher_key(uow, rotation(EcdsaPublisher("k"), overlap))
    assert list(store.state.keys) == [("acme", "acme-2026")]


async def test_registration_with_an_expiry_is_judged_at_publish_time(
    uow: VerificationUowFactory, clock: ManualClock
) -> None:
    """A key registered with an expiry rejects artifacts verified after it without a publish
    time (which means 'now')."""
    publisher = EcdsaPublisher("acme-2026")
    await register(
        uow, publisher.key_id, publisher.public_key_pem, "ecdsa-p256", expires_at=T0 + DAY
    )
    artifact = publisher.publish(PLUGIN, "1.0.0")
    assert (await verify_artifact(uow, command(artifact), max_size=MAX)).verdict is (
        Verdict.VERIFIED
    )
    clock.advance(days=2)
    late = await verify_artifact(uow, command(artifact), max_size=MAX)
    assert late.verdict is Verdict.REJECTED
    assert "expired at" in failed(late)[CheckName.PUBLISHER_KEY]


async def test_list_returns_the_tenants_keys_with_their_lifecycle(
    uow: VerificationUowFactory, old_publisher: Publisher
) -> None:
    """ListPublisherKeys shows rotated, new and revoked keys of the tenant only."""
    await rotate_publisher_key(uow, rotation(EcdsaPublisher("acme-2027")))
    await revoke_publisher_key(
        uow, RevokePublisherKey(tenant_id="acme", key_id="acme-2027", reason="lost")
    )
    keys = await list_publisher_keys(uow, "acme")
    assert [(k.key_id, k.replaced_by, k.revocation_reason) for k in keys] == [
        ("acme-2026", "acme-2027", ""),
        ("acme-2027", "", "lost"),
    ]
    assert await list_publisher_keys(uow, "globex") == []
    assert await list_publisher_keys(uow, "acme", "someone-else") == []


async def test_ecdsa_signature_over_other_content_is_rejected(uow: VerificationUowFactory) -> None:
    """An ECDSA signature of another version presented with this one is rejected."""
    publisher = EcdsaPublisher("acme-ec")
    await register(uow, publisher.key_id, publisher.public_key_pem, "ecdsa-p256")
    genuine = publisher.publish(PLUGIN, "1.0.0")
    other = publisher.publish(PLUGIN, "1.0.1")
    verification = await verify_artifact(
        uow, command(genuine, signature=other.signature), max_size=MAX
    )
    assert verification.verdict is Verdict.REJECTED
    assert "does not verify under key 'acme-ec'" in failed(verification)[CheckName.SIGNATURE]
