"""The tenant id rule, shared by every service and the event envelope.

DNS-label-like, so a tenant id is safe in subjects, headers, URLs and
Kubernetes names. "*" is never a tenant: to the database layer it means
"every tenant", so nothing coming from outside may carry it.
"""

from __future__ import annotations

import re

_TENANT_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,61}[a-z0-9]")


def is_valid_tenant_id(tenant_id: str) -> bool:
    """True for 2-63 characters of a-z, 0-9 and '-', not starting or ending with '-'."""
    return bool(_TENANT_ID.fullmatch(tenant_id))
