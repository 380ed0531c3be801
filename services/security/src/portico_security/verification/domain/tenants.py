"""Which tenant ids a request may name.

The rule is the kernel's (portico_common.tenants, a DNS label). It also keeps
out `*`, the kernel's all-tenants marker: a request naming it would open a
transaction that sees every tenant's publisher keys.
"""

from __future__ import annotations

from portico_common.tenants import is_valid_tenant_id
from portico_security.verification.errors import InvalidRequestError


def validate_tenant_id(tenant_id: str) -> str:
    """Return `tenant_id` unchanged, or raise InvalidRequestError saying what is wrong."""
    if not is_valid_tenant_id(tenant_id):
        raise InvalidRequestError(
            "tenant_id",
            f"{tenant_id!r} must be 2-63 characters of a-z, 0-9 and '-',"
            " starting and ending with a letter or digit",
        )
    return tenant_id
