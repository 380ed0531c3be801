"""Install policies, requests and the audit trail on real PostgreSQL: RLS and append-only."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from portico_common.clock import ManualClock
from portico_common.db import ALL_TENANTS, Database, Tier
from portico_common.places import each_place
from portico_common.uow import uow_factory
from portico_embedded.testing.databases import placed_tenants
from portico_security.install.adapters.postgres import InstallPgUnitOfWork
from portico_security.install.app import approvals
from portico_security.install.app.ports import InstallUowFactory
from portico_security.install.domain.approvals import Approval
from portico_security.install.domain.audit import AuditEntry, chain_problems
from portico_security.install.domain.policy import (
    ApprovalRule,
    DeadlineAction,
    InstallPolicy,
    Outcome,
    PolicyDecision,
)
from portico_security.install.domain.requests import (
    InstallRequest,
    InstallStatus,
    TrustBreakdown,
    TrustFactor,
)

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def uow(security_db: Database, clock: ManualClock) -> InstallUowFactory:
    return uow_factory(
        security_db, lambda conn, tenant: InstallPgUnitOfWork(conn, tenant_id=tenant, clock=clock)
    )


def audit_entry(tenant: str, n: int) -> AuditEntry:
    return AuditEntry(
        tenant_id=tenant,
        at=T0 + timedelta(microseconds=n),
        actor="alice",
        action="approval.approve",
        subject="@acme/p@1.0.0",
        reason=f"n={n}",
        evidence_digest="sha256:" + "b" * 64,
    )


def pending_request(tenant: str, request_id: str) -> InstallRequest:
    rule = ApprovalRule(
        required=2, roles=("sec",), timeout_seconds=60, on_deadline=DeadlineAction.ESCALATE
    )
    return InstallRequest.decided(
        request_id=request_id,
        tenant_id=tenant,
        plugin="@acme/p",
        version="1.0.0",
        verification_id="00000000-0000-0000-0000-000000000001",
        publisher="acme",
        trust=TrustBreakdown(60, (TrustFactor("publisher", 100, 60, ("signed",)),)),
        advisories=(),
        decision=PolicyDecision(Outcome.APPROVAL_REQUIRED, ("low trust",)),
        approval=Approval.open(rule, T0),
        requested_by="bob",
        now=T0,
        rollout_phases=(50, 100),
        rollout_bake_seconds=5,
    )


async def test_audit_rows_cannot_be_updated_or_deleted(
    uow: InstallUowFactory, security_db: Database, admin: asyncpg.Connection
) -> None:
    """UPDATE, DELETE and TRUNCATE on audit_records fail, for the app role and a superuser alike."""
    async with uow("acme") as tx:
        await tx.audit.append(audit_entry("acme", 1))
    async with security_db.transaction("acme") as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute("UPDATE audit_records SET reason = 'forged'")
    async with security_db.transaction("acme") as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute("DELETE FROM audit_records")
    for statement in (
        "UPDATE security.audit_records SET actor = 'mallory'",
        "DELETE FROM security.audit_records",
        "TRUNCATE security.audit_records",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await admin.execute(statement)
    assert await admin.fetchval("SELECT reason FROM security.audit_records") == "n=1"


async def test_audit_chain_per_tenant_reads_back_intact(uow: InstallUowFactory) -> None:
    """Each tenant has its own chain; records read back with hashes that still verify."""
    for n in range(3):
        async with uow("acme") as tx:
            await tx.audit.append(audit_entry("acme", n))
    async with uow("globex") as tx:
        first = await tx.audit.append(audit_entry("globex", 0))
    assert first.sequence == 1
    async with uow("acme") as tx:
        records = await tx.audit.list("acme")
        others = await tx.audit.list("globex")
    assert [r.sequence for r in records] == [1, 2, 3]
    assert chain_problems(records) == []
    assert others == []  # row-level security: acme cannot read globex's trail


async def test_policy_and_request_round_trip_under_rls(uow: InstallUowFactory) -> None:
    """A stored policy and request read back equal for their tenant and are invisible to others."""
    policy = InstallPolicy("acme", min_trust_score=10, approval=ApprovalRule(required=2))
    request = pending_request("acme", "00000000-0000-0000-0000-0000000000aa")
    async with uow("acme") as tx:
        await tx.install_policies.put(policy)
        await tx.install_requests.add(request)
    async with uow("acme") as tx:
        assert await tx.install_policies.get("acme") == policy
        assert await tx.install_requests.get("acme", request.request_id) == request
    async with uow("globex") as tx:
        assert await tx.install_policies.get("acme") is None
        assert await tx.install_requests.get("acme", request.request_id) is None


async def test_due_finds_pending_requests_past_their_deadline(
    uow: InstallUowFactory,
) -> None:
    """The scheduler's query returns pending requests at or past their deadline, of all tenants."""
    request = pending_request("acme", "00000000-0000-0000-0000-0000000000bb")
    async with uow("acme") as tx:
        await tx.install_requests.add(request)
    async with uow(ALL_TENANTS) as tx:
        assert await tx.install_requests.due(T0 + timedelta(seconds=59), 10) == []
    async with uow(ALL_TENANTS) as tx:
        due = await tx.install_requests.due(T0 + timedelta(seconds=60), 10)
    assert due == [("acme", request.request_id)]


async def test_concurrent_appends_extend_one_chain(uow: InstallUowFactory) -> None:
    """Transactions appending at once are serialised: one unbroken chain, no lost record."""

    async def one(n: int) -> None:
        async with uow("acme") as tx:
            await tx.audit.append(audit_entry("acme", n))

    await asyncio.gather(*(one(n) for n in range(8)))
    async with uow("acme") as tx:
        records = await tx.audit.list("acme")
    assert [r.sequence for r in records] == list(range(1, 9))
    assert chain_problems(records) == []


async def test_concurrent_approvals_both_count(uow: InstallUowFactory) -> None:
    """Two approvers deciding at the same moment are both counted (row lock), and it is approved."""
    request = pending_request("acme", "00000000-0000-0000-0000-0000000000cc")
    async with uow("acme") as tx:
        await tx.install_requests.add(request)
    results = await asyncio.gather(
        approvals.approve(uow, approvals.Decide("acme", request.request_id, "a1", "sec", "")),
        approvals.approve(uow, approvals.Decide("acme", request.request_id, "a2", "sec", "")),
    )
    assert sorted(r.step.value for r in results) == ["APPROVED", "RECORDED"]
    final = await approvals.get_request(uow, "acme", request.request_id)
    assert final.status is InstallStatus.APPROVED
    assert sorted(final.approval.approvers if final.approval else ()) == ["a1", "a2"]


async def test_the_approval_sweep_reaches_bridge_and_silo_tenants(
    uow: InstallUowFactory, security_db: Database, database_url: str, clock: ManualClock
) -> None:
    """A sweep of the shared tables handles the pool tenant's due approval only; the pass over
    every place handles the bridge's and the silo's, each in its own place."""
    tiers = {"pooled": Tier.POOL, "bridged": Tier.BRIDGE, "siloed": Tier.SILO}
    async with placed_tenants(database_url, {"security": "portico_security.migrations"}, tiers):
        for n, tenant in enumerate(tiers):
            async with uow(tenant) as tx:
                await tx.install_requests.add(
                    pending_request(tenant, f"00000000-0000-0000-0000-00000000000{n}")
                )
        due = clock.advance(60)

        async def escalated() -> dict[str, bool]:
            found = {}
            for n, tenant in enumerate(tiers):
                request = await approvals.get_request(
                    uow, tenant, f"00000000-0000-0000-0000-00000000000{n}"
                )
                assert request.approval is not None
                found[tenant] = request.approval.escalated
            return found

        assert await approvals.expire_due_approvals(uow, due, 10) == 1
        assert await escalated() == {"pooled": True, "bridged": False, "siloed": False}
        passes = await each_place(
            security_db.places, lambda: approvals.expire_due_approvals(uow, due, 10)
        )
        assert passes == [0, 1, 1]
        assert await escalated() == dict.fromkeys(tiers, True)
