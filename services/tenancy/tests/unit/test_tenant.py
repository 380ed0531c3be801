"""The tenant aggregate and its id rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portico_common.tenants import InvalidTenantIdError, require_tenant_id
from portico_tenancy.domain.tenant import Tenant
from portico_tenancy.errors import InvalidTenantError

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("tenant_id", ["acme", "a1", "team-42", "x" * 63])
def test_valid_ids_are_accepted(tenant_id: str) -> None:
    """DNS-label-like ids of 2 to 63 characters are valid."""
    assert require_tenant_id(tenant_id) == tenant_id
    assert Tenant.create(tenant_id, "", NOW).tenant_id == tenant_id


@pytest.mark.parametrize(
    "tenant_id", ["", "a", "Acme", "-acme", "acme-", "ac me", "acme\n", "*", "x" * 64, "ac_me"]
)
def test_invalid_ids_are_rejected_with_the_rule(tenant_id: str) -> None:
    """Ids breaking the rule are refused, by the tenant too, with a message naming it."""
    with pytest.raises(InvalidTenantIdError, match="2-63 characters"):
        require_tenant_id(tenant_id)
    with pytest.raises(InvalidTenantIdError, match="2-63 characters"):
        Tenant.create(tenant_id, "x", NOW)


def test_display_name_defaults_to_the_id() -> None:
    """A blank display name falls back to the tenant id."""
    assert Tenant.create("acme", "  ", NOW).display_name == "acme"


def test_unprintable_display_name_is_rejected() -> None:
    """Control characters in the display name are refused."""
    with pytest.raises(InvalidTenantError, match="printable"):
        Tenant.create("acme", "Acme\x00", NOW)
