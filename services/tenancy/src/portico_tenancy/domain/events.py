"""Domain events tenancy emits; units of work publish them, adapters map them to protobuf.

Each carries what other services keep projections of (compat keeps quotas
and usage), so nobody has to call back to learn what changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from portico_tenancy.domain.quota import Quota, Usage


@dataclass(frozen=True, kw_only=True, slots=True)
class TenantCreated:
    """A tenant now exists."""

    tenant_id: str
    display_name: str


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


TenantEvent = TenantCreated | TenantQuotaUpdated | TenantUsageUpdated
