"""The tenant: the unit of isolation for everything else in Portico."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from portico_common.tenants import require_tenant_id
from portico_tenancy.errors import InvalidTenantError

MAX_DISPLAY_NAME = 200


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    display_name: str
    created_at: datetime

    @classmethod
    def create(cls, tenant_id: str, display_name: str, now: datetime) -> Tenant:
        """A new tenant, validated; raises InvalidTenantIdError or InvalidTenantError."""
        require_tenant_id(tenant_id)
        name = display_name.strip() or tenant_id
        if len(name) > MAX_DISPLAY_NAME or not name.isprintable():
            raise InvalidTenantError(
                f"display_name must be 1..{MAX_DISPLAY_NAME} printable characters"
            )
        return cls(tenant_id, name, now)
