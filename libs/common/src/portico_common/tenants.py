"""The tenant id rule, shared by every service and the event envelope.

DNS-label-like, so a tenant id is safe in subjects, headers, URLs and
Kubernetes names. "*" (ALL_TENANTS) is never a tenant: to the database layer
it means "every tenant", so nothing coming from outside may carry it.
"""

from __future__ import annotations

import re

from portico_common.errors import InvalidArgumentError

# Platform jobs (schedulers, the outbox relay) see every tenant with it; only
# code that says so explicitly gets it.
ALL_TENANTS = "*"

_TENANT_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,61}[a-z0-9]")
RULE = "2-63 characters of a-z, 0-9 and '-', not starting or ending with '-'"


class InvalidTenantIdError(InvalidArgumentError):
    """A tenant id breaks the rule (or is the '*' wildcard)."""

    def __init__(self, tenant_id: str, field: str = "tenant_id") -> None:
        shown = "empty" if not tenant_id else repr(tenant_id[:80])
        super().__init__(f"invalid {field} {shown}: a tenant id is {RULE}")
        self.tenant_id = tenant_id
        self.field = field


def is_valid_tenant_id(tenant_id: str) -> bool:
    """True for 2-63 characters of a-z, 0-9 and '-', not starting or ending with '-'."""
    return bool(_TENANT_ID.fullmatch(tenant_id))


def require_tenant_id(tenant_id: str, field: str = "tenant_id") -> str:
    """`tenant_id` if it follows the rule; InvalidTenantIdError otherwise."""
    if not is_valid_tenant_id(tenant_id):
        raise InvalidTenantIdError(tenant_id, field)
    return tenant_id
