"""The audit trail of operator controls and approvals: who did what to which rollout, and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from portico_rollout.domain._time import require_aware


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One control or approval; `seq` orders a tenant's records (0 until stored)."""

    tenant_id: str
    rollout_id: str
    at: datetime
    actor: str
    action: str
    reason: str = ""
    detail: str = ""
    seq: int = 0

    def __post_init__(self) -> None:
        require_aware(self.at, "audit time")

    @property
    def audit_id(self) -> str:
        return f"{self.tenant_id}-a{self.seq}"
