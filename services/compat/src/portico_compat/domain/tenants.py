"""Which tenant ids compat accepts from a request."""

from __future__ import annotations

from portico_common.tenants import is_valid_tenant_id
from portico_compat.errors import InvalidTenantError

# The tenancy service's rule (a DNS label), so that a request can never name
# the platform-wide scope "*" that row-level security lets see every tenant.


def validate_tenant_id(tenant_id: str) -> str:
    """Return `tenant_id` unchanged, or raise InvalidTenantError saying what is wrong."""
    if not is_valid_tenant_id(tenant_id):
        raise InvalidTenantError(tenant_id)
    return tenant_id
