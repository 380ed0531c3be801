"""Which tenant ids and opaque ids are accepted at the door.

Plugin names and versions follow the kernel's npm rule (tested with it, in
libs/common/tests/unit/test_npm.py); the use-case tests show rollout applying it.
"""

from __future__ import annotations

import pytest

from portico_common.tenants import InvalidTenantIdError, require_tenant_id
from portico_rollout.domain.naming import validate_id
from portico_rollout.errors import InvalidRolloutError


@pytest.mark.parametrize("tenant", ["acme", "a1", "acme-prod-2"])
def test_tenant_ids_accepted(tenant: str) -> None:
    """DNS-label-like tenant ids pass unchanged."""
    assert require_tenant_id(tenant) == tenant


@pytest.mark.parametrize("tenant", ["", "*", "a", "Acme", "acme-", "-acme", "ac me", "a" * 64])
def test_tenant_ids_refused(tenant: str) -> None:
    """The platform scope "*" and anything not a DNS label is refused, naming the field."""
    with pytest.raises(InvalidTenantIdError, match="tenant_id"):
        require_tenant_id(tenant)


@pytest.mark.parametrize("value", ["", "a b", "x" * 257, "tab\there"])
def test_ids_refused(value: str) -> None:
    """Opaque ids must be 1..256 printable characters without spaces."""
    with pytest.raises(InvalidRolloutError, match="user_id"):
        validate_id("user_id", value)
