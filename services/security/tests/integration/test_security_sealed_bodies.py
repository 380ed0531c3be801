"""Install request bodies sealed with the tenant's data key on real PostgreSQL.

Approvers' comments (and the history and reasons quoting them) are stored
only as ciphertext; rows written before per-tenant keys stay readable and
are sealed on their next write; a shredded tenant's rows no longer open.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from portico_common.clock import ManualClock
from portico_common.crypto.envelope import is_sealed
from portico_common.crypto.keyring import FieldCipher, StaticDataKeys, TenantKeysShreddedError
from portico_common.db import Database
from portico_common.uow import uow_factory
from portico_embedded.testing.fixtures import unique_tenant
from portico_security.install.adapters.postgres import InstallPgUnitOfWork
from portico_security.install.app.audit import audit_page, record
from portico_security.install.app.ports import InstallUowFactory
from portico_security.install.domain.approvals import Approval
from portico_security.install.domain.policy import (
    ApprovalRule,
    DeadlineAction,
    Outcome,
    PolicyDecision,
)
from portico_security.install.domain.requests import InstallRequest, ReviewNote, TrustBreakdown
from portico_security.install.errors import SealedBodyUnreadableError
from portico_security.sensitive import SECURITY_SENSITIVE_FIELDS

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
COMMENT = "the maintainer told me in private the CVE fix is incomplete"
NOTE = "reviewers only: the publisher's key was rotated after a leak"


def _uow(db: Database, cipher: FieldCipher | None) -> InstallUowFactory:
    clock = ManualClock(T0)
    return uow_factory(
        db,
        lambda conn, tenant: InstallPgUnitOfWork(
            conn, tenant_id=tenant, clock=clock, cipher=cipher
        ),
    )


def _voted(tenant: str) -> InstallRequest:
    rule = ApprovalRule(
        required=2, roles=("sec",), timeout_seconds=60, on_deadline=DeadlineAction.ESCALATE
    )
    request = InstallRequest.decided(
        request_id=str(uuid.uuid4()), tenant_id=tenant, plugin="@acme/p", version="1.0.0",
        verification_id="00000000-0000-0000-0000-000000000001", publisher="acme",
        trust=TrustBreakdown(60, ()), advisories=(),
        decision=PolicyDecision(Outcome.APPROVAL_REQUIRED, ("low trust",)),
        approval=Approval.open(rule, T0), requested_by="bob", now=T0,
        rollout_phases=(100,), rollout_bake_seconds=5,
    )  # fmt: skip
    assert request.approval is not None
    approval, step = request.approval.vote("alice", "sec", approve=True, comment=COMMENT, now=T0)
    voted = request.after(approval, step, "alice", COMMENT, T0)
    return voted.noted(ReviewNote(T0, "alice", "sec", NOTE))


async def _raw(database_url: str, request_id: str) -> asyncpg.Record:
    admin = await asyncpg.connect(database_url)
    try:
        row = await admin.fetchrow(
            "SELECT body::text AS body, body_sealed FROM security.install_requests"
            " WHERE request_id = $1",
            uuid.UUID(request_id),
        )
    finally:
        await admin.close()
    assert row is not None
    return row


async def test_comments_are_stored_only_sealed_and_read_back(
    security_db: Database, database_url: str
) -> None:
    """The row holds '{}' and ciphertext; reading gives the request with its comment and
    private note back."""
    tenant, keys = unique_tenant(), StaticDataKeys()
    uow = _uow(security_db, FieldCipher(SECURITY_SENSITIVE_FIELDS, keys))
    request = _voted(tenant)
    async with uow(tenant) as tx:
        await tx.install_requests.add(request)
    row = await _raw(database_url, request.request_id)
    assert row["body"] == "{}"
    assert is_sealed(bytes(row["body_sealed"]))
    assert COMMENT.encode() not in bytes(row["body_sealed"])
    assert NOTE.encode() not in bytes(row["body_sealed"])
    async with uow(tenant) as tx:
        assert await tx.install_requests.get(tenant, request.request_id) == request

    keys.shred(tenant)
    with pytest.raises(TenantKeysShreddedError):
        async with uow(tenant) as tx:
            await tx.install_requests.get(tenant, request.request_id)


async def test_a_plaintext_row_stays_readable_and_is_sealed_on_its_next_write(
    security_db: Database, database_url: str
) -> None:
    """Lazy migration: a row written without keys reads as before and is sealed when saved."""
    tenant = unique_tenant()
    plain, sealed = (
        _uow(security_db, None),
        _uow(security_db, FieldCipher(SECURITY_SENSITIVE_FIELDS, StaticDataKeys())),
    )
    request = _voted(tenant)
    async with plain(tenant) as tx:
        await tx.install_requests.add(request)
    assert COMMENT in (await _raw(database_url, request.request_id))["body"]
    async with sealed(tenant) as tx:
        assert await tx.install_requests.get(tenant, request.request_id, lock=True) == request
        await tx.install_requests.save(request)
    row = await _raw(database_url, request.request_id)
    assert (row["body"], is_sealed(bytes(row["body_sealed"]))) == ("{}", True)
    with pytest.raises(SealedBodyUnreadableError, match="PORTICO_TENANCY_TARGET"):
        async with plain(tenant) as tx:
            await tx.install_requests.get(tenant, request.request_id)


async def test_audit_reasons_are_stored_only_sealed_and_the_chain_checks_out(
    security_db: Database, database_url: str
) -> None:
    """A reason quoting a comment is ciphertext in the row; read back, the chain is intact."""
    tenant, keys = unique_tenant(), StaticDataKeys()
    uow = _uow(security_db, FieldCipher(SECURITY_SENSITIVE_FIELDS, keys))
    for reason in (f"as sec: {COMMENT}", "install approved"):
        async with uow(tenant) as tx:
            await record(
                tx,
                tenant,
                actor="alice",
                action="approval.approve",
                subject="@acme/p@1.0.0",
                reason=reason,
                evidence_digest="sha256:" + "0" * 64,
            )
    admin = await asyncpg.connect(database_url)
    try:
        rows = await admin.fetch(
            "SELECT reason, reason_sealed FROM security.audit_records WHERE tenant_id = $1"
            " ORDER BY sequence",
            tenant,
        )
    finally:
        await admin.close()
    assert [r["reason"] for r in rows] == ["", ""]
    assert all(is_sealed(bytes(r["reason_sealed"])) for r in rows)
    assert COMMENT.encode() not in bytes(rows[0]["reason_sealed"])
    records, problems = await audit_page(uow, tenant)
    assert [r.entry.reason for r in records] == [f"as sec: {COMMENT}", "install approved"]
    assert problems == []

    keys.shred(tenant)
    with pytest.raises(TenantKeysShreddedError):
        await audit_page(uow, tenant)
