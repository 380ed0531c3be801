"""In-memory decisions and audit records (the fakes of DecisionRepository and AuditRepository)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from portico_rollout.domain.audit import AuditRecord
from portico_rollout.domain.decisions import Decision

if TYPE_CHECKING:
    from portico_common.memory_uow import TenantScope
    from portico_rollout.adapters.memory import MemoryState


class MemoryDecisionRepository:
    def __init__(self, state: MemoryState, scope: TenantScope) -> None:
        self._state = state
        self._scope = scope

    async def add(self, decision: Decision) -> None:
        self._scope.check_write(decision.tenant_id)
        if any(
            (d.rollout_id, d.seq) == (decision.rollout_id, decision.seq)
            for d in self._state.decisions
        ):
            raise ValueError(f"decision {decision.decision_id} exists (primary key)")
        if decision.rollout_id not in self._state.rollouts:
            raise LookupError(f"no rollout {decision.rollout_id} (foreign key)")
        self._state.decisions.append(decision)

    def _of(self, tenant_id: str, rollout_id: str) -> list[Decision]:
        if not self._scope.sees(tenant_id):
            return []
        found = [
            d
            for d in self._state.decisions
            if (d.tenant_id, d.rollout_id) == (tenant_id, rollout_id)
        ]
        return sorted(found, key=lambda d: d.seq)

    async def for_rollout(
        self, tenant_id: str, rollout_id: str, *, after_seq: int = 0, limit: int = 1000
    ) -> list[Decision]:
        return [d for d in self._of(tenant_id, rollout_id) if d.seq > after_seq][:limit]

    async def latest(self, tenant_id: str, rollout_id: str, limit: int) -> list[Decision]:
        return list(reversed(self._of(tenant_id, rollout_id)))[:limit]


class MemoryAuditRepository:
    def __init__(self, state: MemoryState, scope: TenantScope) -> None:
        self._state = state
        self._scope = scope

    async def add(self, record: AuditRecord) -> None:
        self._scope.check_write(record.tenant_id)
        seq = 1 + max((r.seq for r in self._state.audit), default=0)
        self._state.audit.append(replace(record, seq=seq))

    async def page(
        self, tenant_id: str, rollout_id: str, *, after: int, limit: int
    ) -> list[AuditRecord]:
        if not self._scope.sees(tenant_id):
            return []
        found = [
            r
            for r in self._state.audit
            if r.tenant_id == tenant_id
            and (not rollout_id or r.rollout_id == rollout_id)
            and r.seq > after
        ]
        return sorted(found, key=lambda r: r.seq)[:limit]
