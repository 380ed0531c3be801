"""Which tenant ids a request may name.

The rule is tenancy's (a DNS label), repeated here because services share no
code beyond the kernel. It also keeps out `*`, the kernel's all-tenants
marker: a request naming it would open a transaction that sees every tenant's
publisher keys.
"""

from __future__ import annotations

import re

from portico_security.errors import InvalidRequestError

_TENANT_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,61}[a-z0-9]")


def validate_tenant_id(tenant_id: str) -> str:
    """Return `tenant_id` unchanged, or raise InvalidRequestError saying what is wrong."""
    if not _TENANT_ID.fullmatch(tenant_id):
        raise InvalidRequestError(
            "tenant_id",
            f"{tenant_id!r} must be 2-63 characters of a-z, 0-9 and '-',"
            " starting and ending with a letter or digit",
        )
    return tenant_id
