"""Key-lifecycle and version-pin repository methods: one contract, in-memory and PostgreSQL."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from portico_common.clock import ManualClock
from portico_embedded.testing.databases import CONTRACT_BACKENDS, contract_backend
from portico_security.verification.adapters.memory import VerificationMemoryStore
from portico_security.verification.app.ports import VerificationUowFactory
from portico_security.verification.domain.decisions import Verification
from portico_security.verification.domain.signatures import KeyAlgorithm, PublisherKey
from portico_security.verification.domain.verification import Check, Verdict, VerificationReport

from .conftest import T0


@pytest.fixture(params=CONTRACT_BACKENDS)
def uow(request: pytest.FixtureRequest, clock: ManualClock) -> VerificationUowFactory:
    return contract_backend(
        request,
        memory=lambda: VerificationMemoryStore(clock).uow_factory(),
        postgres="verification_pg",
    )


def p256_key(
    key_id: str, tenant_id: str = "acme", publisher: str = "acme", minutes: int = 0
) -> PublisherKey:
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    return PublisherKey(
        tenant_id=tenant_id,
        publisher=publisher,
        key_id=key_id,
        algorithm=KeyAlgorithm.ECDSA_P256,
        public_key_pem=pem,
        created_at=T0 + timedelta(minutes=minutes),
    )


async def test_lifecycle_fields_round_trip(uow: VerificationUowFactory) -> None:
    """Expiry, revocation and replacement are stored and read back exactly, ECDSA key included."""
    key = replace(p256_key("k1"), expires_at=T0 + timedelta(days=7))
    async with uow("acme") as tx:
        assert await tx.publisher_keys.add(key)
    changed = replace(
        key, revoked_at=T0 + timedelta(hours=1), revocation_reason="leaked", replaced_by="k2"
    )
    async with uow("acme") as tx:
        assert await tx.publisher_keys.get_for_update("acme", "k1") == key
        await tx.publisher_keys.update_lifecycle(changed)
    async with uow("acme") as tx:
        assert await tx.publisher_keys.get("acme", "k1") == changed


async def test_a_failed_transaction_leaves_the_lifecycle_unchanged(
    uow: VerificationUowFactory,
) -> None:
    """A revocation in a transaction that then fails is not stored."""
    key = p256_key("k1")
    async with uow("acme") as tx:
        await tx.publisher_keys.add(key)

    async def revoke_then_fail() -> None:
        async with uow("acme") as tx:
            await tx.publisher_keys.update_lifecycle(replace(key, revoked_at=T0))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await revoke_then_fail()
    async with uow("acme") as tx:
        assert await tx.publisher_keys.get("acme", "k1") == key


async def test_list_orders_by_publisher_then_registration_and_stays_in_the_tenant(
    uow: VerificationUowFactory,
) -> None:
    """list returns the tenant's keys by publisher then registration time, filtered on request,
    and never another tenant's."""
    keys = [
        p256_key("b-late", publisher="beta", minutes=5),
        p256_key("a-1", publisher="alpha", minutes=3),
        p256_key("b-early", publisher="beta", minutes=1),
    ]
    async with uow("acme") as tx:
        for key in keys:
            await tx.publisher_keys.add(key)
    async with uow("globex") as tx:
        await tx.publisher_keys.add(p256_key("g-1", tenant_id="globex"))
    async with uow("acme") as tx:
        listed = await tx.publisher_keys.list("acme")
        betas = await tx.publisher_keys.list("acme", "beta")
        foreign = await tx.publisher_keys.list("globex")
    assert [k.key_id for k in listed] == ["a-1", "b-early", "b-late"]
    assert [k.key_id for k in betas] == ["b-early", "b-late"]
    assert foreign == []


def decision(
    verification_id: str, integrity: str, verdict: Verdict, minutes: int, tenant_id: str = "acme"
) -> Verification:
    return Verification(
        verification_id=verification_id,
        tenant_id=tenant_id,
        plugin="@acme/p",
        version="1.0.0",
        integrity=integrity,
        key_id="k1",
        report=VerificationReport(verdict=verdict, checks=(Check("size", True, "ok"),)),
        created_at=T0 + timedelta(minutes=minutes),
    )


async def test_pinned_integrity_is_the_first_verified_one(uow: VerificationUowFactory) -> None:
    """The pin is the earliest VERIFIED decision's integrity; rejected ones and other tenants'
    decisions do not count."""
    async with uow("acme") as tx:
        assert await tx.verifications.pinned_integrity("acme", "@acme/p", "1.0.0") is None
        await tx.verifications.add(decision(str(uuid.uuid4()), "sha512-r", Verdict.REJECTED, 0))
        await tx.verifications.add(decision(str(uuid.uuid4()), "sha512-b", Verdict.VERIFIED, 2))
        await tx.verifications.add(decision(str(uuid.uuid4()), "sha512-a", Verdict.VERIFIED, 1))
    async with uow("globex") as tx:
        await tx.verifications.add(
            decision(str(uuid.uuid4()), "sha512-g", Verdict.VERIFIED, -5, tenant_id="globex")
        )
    async with uow("acme") as tx:
        assert await tx.verifications.pinned_integrity("acme", "@acme/p", "1.0.0") == "sha512-a"
        assert await tx.verifications.pinned_integrity("acme", "@acme/p", "1.0.1") is None
