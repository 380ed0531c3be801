"""The tenant: the unit of isolation for everything else in Portico."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from portico_common.tenants import is_valid_tenant_id
from portico_tenancy.errors import InvalidTenantError

MAX_DISPLAY_NAME = 200


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    display_name: str
    created_at: datetime

    @classmethod
    def create(cls, tenant_id: str, display_name: str, now: datetime) -> Tenant:
        """A new tenant, validated; raises InvalidTenantError naming the rule broken."""
        validate_tenant_id(tenant_id)
        name = display_name.strip() or tenant_id
        if len(name) > MAX_DISPLAY_NAME or not name.isprintable():
            raise InvalidTenantError(
                f"display_name must be 1..{MAX_DISPLAY_NAME} printable characters"
            )
        return cls(tenant_id, name, now)


def validate_tenant_id(tenant_id: str) -> None:
    if not is_valid_tenant_id(tenant_id):
        raise InvalidTenantError(
            f"tenant_id {tenant_id!r} must be 2-63 characters of a-z, 0-9 and '-',"
            " starting with a letter or digit and not ending with '-'"
        )
