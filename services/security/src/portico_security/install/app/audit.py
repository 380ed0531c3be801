"""The audit trail's use cases: append a record in the caller's transaction, read pages back."""

from __future__ import annotations

from portico_common.tenants import require_tenant_id
from portico_security.install.app.ports import InstallUnitOfWork, InstallUowFactory
from portico_security.install.app.validation import check_text
from portico_security.install.domain.audit import AuditEntry, AuditRecord, chain_problems
from portico_security.install.errors import InvalidInstallRequestError

MAX_AUDIT_PAGE = 1000


async def record(
    tx: InstallUnitOfWork,
    tenant_id: str,
    *,
    actor: str,
    action: str,
    subject: str,
    reason: str,
    evidence_digest: str,
) -> None:
    """Appends one record to the tenant's chain, in the transaction of the change it records."""
    await tx.audit.append(
        AuditEntry(
            tenant_id=tenant_id,
            at=tx.clock.now(),
            actor=actor,
            action=action,
            subject=subject,
            reason=reason,
            evidence_digest=evidence_digest,
        )
    )


async def list_audit(
    uow: InstallUowFactory,
    tenant_id: str,
    *,
    subject: str = "",
    after: int = 0,
    limit: int = 100,
) -> list[AuditRecord]:
    """The tenant's records after sequence `after` (of one subject if given), in order."""
    require_tenant_id(tenant_id)
    if subject:
        check_text("subject", subject, required=True)
    if after < 0:
        raise InvalidInstallRequestError("after_sequence", "must be >= 0")
    page = min(max(limit, 1), MAX_AUDIT_PAGE)
    async with uow(tenant_id) as tx:
        return await tx.audit.list(tenant_id, subject=subject, after=after, limit=page)


async def audit_page(
    uow: InstallUowFactory, tenant_id: str, *, after: int = 0, limit: int = 100
) -> tuple[list[AuditRecord], list[str]]:
    """A page of the whole chain and the breaks in it, linked to the record before the page."""
    limit = min(max(limit, 1), MAX_AUDIT_PAGE - 1)
    records = await list_audit(uow, tenant_id, after=max(after - 1, 0), limit=limit + 1)
    anchor = records[0] if after > 0 and records and records[0].sequence == after else None
    page = records[1:] if anchor is not None else records[:limit]
    if after > 0 and anchor is None:
        return page, [f"record {after}, the one before this page, is missing"]
    return page, chain_problems(page, previous=anchor)
