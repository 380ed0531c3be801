"""Domain events tenancy emits; units of work publish them, adapters map them to protobuf.

Each carries what other services keep projections of (compat keeps quotas
and usage), so nobody has to call back to learn what changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from portico_tenancy.domain.quota import Quota, Usage


@dataclass(frozen=True, kw_only=True, slots=True)
class TenantCreated:
    """A tenant now exists; `isolation` says where its rows will live (pool, bridge, silo)."""

    tenant_id: str
    display_name: str
    isolation: str = "pool"


@dataclass(frozen=True, kw_only=True, slots=True)
class TenantQuotaUpdated:
    """A tenant's quota was replaced; `quota.revision` orders the updates."""

    quota: Quota

    @property
    def tenant_id(self) -> str:
        return self.quota.tenant_id


@dataclass(frozen=True, kw_only=True, slots=True)
class TenantUsageUpdated:
    """A tenant's usage was reported anew; `usage.revision` orders the reports."""

    usage: Usage

    @property
    def tenant_id(self) -> str:
        return self.usage.tenant_id


@dataclass(frozen=True, kw_only=True, slots=True)
class TenantReservationExpired:
    """A hold never confirmed by its owner outlived the hold time to live and was released."""

    tenant_id: str
    reservation_id: str
    kind: str
    plugin: str
    version: str
    reserved_at: datetime
    expired_at: datetime


# ---- the lifecycle: one event per transition -------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class TenantActivated:
    """Provisioning (and placement, for a bridge or silo tenant) finished; the tenant is active."""

    tenant_id: str
    state: str
    at: datetime
    isolation: str = "pool"


@dataclass(frozen=True, kw_only=True, slots=True)
class TenantSuspended:
    """The tenant's tokens are refused and its rollouts pause until it is resumed."""

    tenant_id: str
    state: str
    reason: str
    at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class TenantResumed:
    """A suspended tenant is active again."""

    tenant_id: str
    state: str
    at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class TenantDeletionScheduled:
    """The tenant is deleting; its data goes at `delete_after` unless restored before."""

    tenant_id: str
    state: str
    delete_after: datetime
    at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class TenantDeletionCancelled:
    """The deletion was cancelled within its grace period; `state` is the one restored."""

    tenant_id: str
    state: str
    at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class TenantDeletionRequested:
    """The grace period is over: these services delete the tenant's data and report."""

    tenant_id: str
    state: str
    services: tuple[str, ...]
    at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class TenantDeleted:
    """Every service reported its data of the tenant deleted."""

    tenant_id: str
    state: str
    at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class TenantUpdated:
    """The tenant's metadata changed."""

    tenant_id: str
    display_name: str
    plan: str
    labels: dict[str, str]
    at: datetime


LifecycleEvent = (
    TenantActivated
    | TenantSuspended
    | TenantResumed
    | TenantDeletionScheduled
    | TenantDeletionCancelled
    | TenantDeletionRequested
    | TenantDeleted
    | TenantUpdated
)
TenantEvent = (
    TenantCreated
    | TenantQuotaUpdated
    | TenantUsageUpdated
    | TenantReservationExpired
    | LifecycleEvent
)
