"""Which tenant ids compat accepts from a request."""

from __future__ import annotations

import re

from portico_compat.errors import InvalidTenantError

# The tenancy service's rule (a DNS label), so that a request can never name
# the platform-wide scope "*" that row-level security lets see every tenant.
_TENANT_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,61}[a-z0-9]")


def validate_tenant_id(tenant_id: str) -> str:
    """Return `tenant_id` unchanged, or raise InvalidTenantError saying what is wrong."""
    if _TENANT_ID.fullmatch(tenant_id) is None:
        raise InvalidTenantError(tenant_id)
    return tenant_id
