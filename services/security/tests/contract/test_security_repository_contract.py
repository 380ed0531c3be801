"""One contract for both adapters of the security ports: in-memory and PostgreSQL.

The app-layer unit tests trust the in-memory adapters; this suite is why
they may: every behaviour below holds for both.
"""

from __future__ import annotations

import asyncpg
import pytest

from portico_common.clock import ManualClock
from portico_common.memory_uow import RowLevelSecurityError
from portico_embedded.testing.databases import CONTRACT_BACKENDS, contract_backend
from portico_security.testing.artifacts import Publisher
from portico_security.verification.adapters.memory import VerificationMemoryStore
from portico_security.verification.app.ports import VerificationUowFactory
from portico_security.verification.domain.decisions import Verification
from portico_security.verification.domain.signatures import KeyAlgorithm, PublisherKey
from portico_security.verification.domain.verification import Check, Verdict, VerificationReport

from .conftest import T0

REPORT = VerificationReport(
    verdict=Verdict.REJECTED,
    checks=(
        Check("package-name", passed=True, detail="ok"),
        Check("integrity", passed=False, detail='the tarball hashes to sha512-x, "quoted" ü'),
        Check("signature", passed=False, detail="not verified"),
    ),
)


@pytest.fixture(params=CONTRACT_BACKENDS)
def uow(request: pytest.FixtureRequest, clock: ManualClock) -> VerificationUowFactory:
    return contract_backend(
        request,
        memory=lambda: VerificationMemoryStore(clock).uow_factory(),
        postgres="verification_pg",
    )


def key(tenant_id: str = "acme", key_id: str = "acme-2026") -> PublisherKey:
    return PublisherKey(
        tenant_id=tenant_id,
        publisher="acme",
        key_id=key_id,
        algorithm=KeyAlgorithm.ED25519,
        public_key_pem=Publisher(name="acme", key_id=key_id).public_key_pem,
        created_at=T0,
    )


def decision(verification_id: str, tenant_id: str = "acme") -> Verification:
    return Verification(
        verification_id=verification_id,
        tenant_id=tenant_id,
        plugin="@acme/plugin-cost-insights",
        version="2.3.0",
        integrity="sha512-x",
        key_id="acme-2026",
        report=REPORT,
        created_at=T0,
    )


VID = "6f1c1b8e-3a55-4f7e-9d55-0f6f2d1f7a10"


async def test_key_round_trips(uow: VerificationUowFactory) -> None:
    """A stored key reads back equal, field for field."""
    stored = key()
    async with uow("acme") as tx:
        assert await tx.publisher_keys.add(stored) is True
    async with uow("acme") as tx:
        assert await tx.publisher_keys.get("acme", "acme-2026") == stored


async def test_taken_key_id_is_not_overwritten(uow: VerificationUowFactory) -> None:
    """Adding under a taken (tenant, key id) answers False and keeps the first key."""
    first, second = key(), key()
    async with uow("acme") as tx:
        await tx.publisher_keys.add(first)
    async with uow("acme") as tx:
        assert await tx.publisher_keys.add(second) is False
        assert await tx.publisher_keys.get("acme", "acme-2026") == first


async def test_keys_are_invisible_to_other_tenants(uow: VerificationUowFactory) -> None:
    """Another tenant's unit of work finds no key, even asking by the owner's tenant id,
    and may store its own key under the same id."""
    async with uow("acme") as tx:
        await tx.publisher_keys.add(key())
    async with uow("globex") as tx:
        assert await tx.publisher_keys.get("acme", "acme-2026") is None
        assert await tx.publisher_keys.get("globex", "acme-2026") is None
        assert await tx.publisher_keys.add(key(tenant_id="globex")) is True


async def test_decision_round_trips_with_its_checks_in_order(uow: VerificationUowFactory) -> None:
    """A stored decision reads back equal: verdict, every check in order, text intact."""
    async with uow("acme") as tx:
        await tx.verifications.add(decision(VID))
    async with uow("acme") as tx:
        assert await tx.verifications.get("acme", VID) == decision(VID)
    async with uow("globex") as tx:
        assert await tx.verifications.get("acme", VID) is None
        assert await tx.verifications.get("globex", VID) is None


async def test_unknown_decision_is_none(uow: VerificationUowFactory) -> None:
    """An id never stored (or not a UUID at all) reads as None, not as an error."""
    async with uow("acme") as tx:
        assert await tx.verifications.get("acme", VID) is None
        assert await tx.verifications.get("acme", "not-a-uuid") is None


async def test_failed_unit_of_work_stores_nothing(uow: VerificationUowFactory) -> None:
    """An error inside the block undoes its writes: no key, no decision."""

    async def write_then_fail() -> None:
        async with uow("acme") as tx:
            await tx.publisher_keys.add(key())
            await tx.verifications.add(decision(VID))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await write_then_fail()
    async with uow("acme") as tx:
        assert await tx.publisher_keys.get("acme", "acme-2026") is None
        assert await tx.verifications.get("acme", VID) is None


async def test_rows_of_another_tenant_cannot_be_written(uow: VerificationUowFactory) -> None:
    """A unit of work for one tenant refuses to store another tenant's key (RLS WITH CHECK)."""
    with pytest.raises((RowLevelSecurityError, asyncpg.InsufficientPrivilegeError)):
        async with uow("globex") as tx:
            await tx.publisher_keys.add(key(tenant_id="acme"))
