"""The refused-tenant set the interceptor consults: states, the reads policy, snapshots."""

from __future__ import annotations

import pytest

from portico_common.errors import PermissionDeniedError, TenantSuspendedError
from portico_common.tenant_status import RefusedTenants
from portico_common.tenants import ALL_TENANTS


def test_a_suspended_tenant_is_refused_naming_the_suspension() -> None:
    """check() raises PERMISSION_DENIED saying the tenant is suspended."""
    refused = RefusedTenants()
    refused.set_state("acme", "suspended")
    with pytest.raises(TenantSuspendedError, match="tenant 'acme' is suspended") as caught:
        refused.check("acme", read=False)
    assert isinstance(caught.value, PermissionDeniedError)
    refused.check("beta", read=False)
    refused.check(ALL_TENANTS, read=False)


def test_reads_pass_only_when_the_policy_allows_and_only_while_suspended() -> None:
    """allow_reads lets a suspended tenant read; a deleting one is refused even then."""
    refused = RefusedTenants(allow_reads=True)
    refused.set_state("acme", "suspended")
    refused.check("acme", read=True)
    with pytest.raises(TenantSuspendedError):
        refused.check("acme", read=False)
    refused.set_state("acme", "deleting")
    with pytest.raises(TenantSuspendedError, match="is deleting"):
        refused.check("acme", read=True)


def test_an_active_state_lifts_the_refusal() -> None:
    """tenant.resumed (state active) removes the tenant from the set."""
    refused = RefusedTenants()
    refused.set_state("acme", "suspended")
    refused.set_state("acme", "active")
    assert refused.state_of("acme") is None
    refused.check("acme", read=False)


def test_events_heard_during_a_snapshot_win_over_it() -> None:
    """A snapshot taken before a suspension does not undo the suspension heard meanwhile."""
    refused = RefusedTenants()
    refused.set_state("old", "suspended")
    refused.begin_snapshot()
    refused.set_state("acme", "suspended")
    refused.replace({"beta": "deleting"})
    assert refused.state_of("acme") == "suspended"
    assert refused.state_of("beta") == "deleting"
    assert refused.state_of("old") is None
