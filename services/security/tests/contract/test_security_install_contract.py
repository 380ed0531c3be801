"""One contract for both adapters of the install ports: in-memory and PostgreSQL.

The install use-case unit tests trust the in-memory adapters; every behaviour
below holds for both.
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from portico_common.clock import ManualClock
from portico_common.memory_uow import RowLevelSecurityError
from portico_common.tenants import ALL_TENANTS
from portico_embedded.testing.databases import CONTRACT_BACKENDS, contract_backend
from portico_security.install.adapters.memory import InstallMemoryStore
from portico_security.install.app.ports import InstallUowFactory
from portico_security.install.domain.approvals import Approval, Step
from portico_security.install.domain.audit import AuditEntry, chain_problems
from portico_security.install.domain.policy import (
    AdvisoryFinding,
    ApprovalRule,
    InstallPolicy,
    Outcome,
    PolicyDecision,
    Severity,
)
from portico_security.install.domain.requests import InstallRequest, TrustBreakdown, TrustFactor

from .conftest import T0


@pytest.fixture(params=CONTRACT_BACKENDS)
def uow(request: pytest.FixtureRequest, clock: ManualClock) -> InstallUowFactory:
    return contract_backend(
        request, memory=lambda: InstallMemoryStore(clock).uow_factory(), postgres="install_pg"
    )


def pending(tenant: str, request_id: str, timeout: int = 60) -> InstallRequest:
    return InstallRequest.decided(
        request_id=request_id,
        tenant_id=tenant,
        plugin="@acme/p",
        version="1.0.0",
        verification_id="00000000-0000-0000-0000-000000000001",
        publisher="acme",
        trust=TrustBreakdown(40, (TrustFactor("publisher", 40, 30, ('quoted "ü"',)),)),
        advisories=(AdvisoryFinding("GHSA-1", Severity.LOW, "dep@1.0.0", "s", ("1.0.1",)),),
        decision=PolicyDecision(Outcome.APPROVAL_REQUIRED, ("low trust",)),
        approval=Approval.open(ApprovalRule(required=2, timeout_seconds=timeout), T0),
        requested_by="bob",
        now=T0,
    )


def entry(tenant: str, n: int) -> AuditEntry:
    return AuditEntry(tenant, T0 + timedelta(seconds=n), "a", "x", f"s{n % 2}", "r", "sha256:0")


async def test_request_survives_a_round_trip_and_a_vote(uow: InstallUowFactory) -> None:
    """A request, then the same request after a vote, read back equal to what was saved."""
    request = pending("acme", "00000000-0000-0000-0000-00000000000a")
    async with uow("acme") as tx:
        await tx.install_requests.add(request)
    async with uow("acme") as tx:
        assert await tx.install_requests.get("acme", request.request_id) == request
        assert request.approval is not None
        approval, step = request.approval.vote(
            "alice", "security-reviewer", approve=True, comment="ok", now=T0
        )
        voted = request.after(approval, step, "alice", "ok", T0)
        await tx.install_requests.save(voted)
    async with uow("acme") as tx:
        assert await tx.install_requests.get("acme", request.request_id, lock=True) == voted
    assert step is Step.RECORDED


async def test_nothing_is_kept_when_the_block_fails(uow: InstallUowFactory) -> None:
    """A unit of work that raises stores neither the request, the policy nor the audit record."""
    request = pending("acme", "00000000-0000-0000-0000-00000000000b")

    async def write_then_fail() -> None:
        async with uow("acme") as tx:
            await tx.install_requests.add(request)
            await tx.install_policies.put(InstallPolicy("acme", min_trust_score=5))
            await tx.audit.append(entry("acme", 0))
            raise RuntimeError

    with pytest.raises(RuntimeError):
        await write_then_fail()
    async with uow("acme") as tx:
        assert await tx.install_requests.get("acme", request.request_id) is None
        assert await tx.install_policies.get("acme") is None
        assert await tx.audit.list("acme") == []


async def test_rows_of_another_tenant_are_invisible(uow: InstallUowFactory) -> None:
    """Requests, policies and audit records of one tenant are not seen from another."""
    request = pending("acme", "00000000-0000-0000-0000-00000000000c")
    async with uow("acme") as tx:
        await tx.install_requests.add(request)
        await tx.install_policies.put(InstallPolicy("acme"))
        await tx.audit.append(entry("acme", 0))
    async with uow("globex") as tx:
        assert await tx.install_requests.get("acme", request.request_id) is None
        assert await tx.install_policies.get("acme") is None
        assert await tx.audit.list("acme") == []
    with pytest.raises((RowLevelSecurityError, asyncpg.InsufficientPrivilegeError)):
        async with uow("globex") as tx:
            await tx.install_requests.add(request)


async def test_audit_pages_and_subject_filter(uow: InstallUowFactory) -> None:
    """Records come in sequence order, after a sequence, limited, optionally by subject."""
    for n in range(5):
        async with uow("acme") as tx:
            await tx.audit.append(entry("acme", n))
    async with uow("acme") as tx:
        everything = await tx.audit.list("acme")
        page = await tx.audit.list("acme", after=2, limit=2)
        odd = await tx.audit.list("acme", subject="s1")
    assert chain_problems(everything) == []
    assert [r.sequence for r in page] == [3, 4]
    assert [r.sequence for r in odd] == [2, 4]


async def test_due_lists_pending_past_deadline_only(uow: InstallUowFactory) -> None:
    """Only pending requests at or past their deadline are due, oldest deadline first."""
    late = pending("acme", "00000000-0000-0000-0000-00000000000d", timeout=10)
    later = pending("globex", "00000000-0000-0000-0000-00000000000e", timeout=20)
    for tenant, request in (("acme", late), ("globex", later)):
        async with uow(tenant) as tx:
            await tx.install_requests.add(request)
    async with uow(ALL_TENANTS) as tx:
        assert await tx.install_requests.due(T0 + timedelta(seconds=9), 10) == []
    async with uow(ALL_TENANTS) as tx:
        due = await tx.install_requests.due(T0 + timedelta(seconds=30), 10)
    assert due == [("acme", late.request_id), ("globex", later.request_id)]
