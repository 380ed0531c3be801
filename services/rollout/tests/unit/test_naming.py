"""Which tenant ids, plugin names, versions and ids are accepted at the door."""

from __future__ import annotations

import pytest

from portico_common.tenants import InvalidTenantIdError, require_tenant_id
from portico_rollout.domain.naming import validate_id, validate_plugin, validate_version
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


@pytest.mark.parametrize(
    "plugin", ["left-pad", "@acme/plugin-cost-insights", "@backstage/plugin-catalog.react", "a~b"]
)
def test_npm_names_accepted(plugin: str) -> None:
    """Plain and scoped npm package names pass."""
    assert validate_plugin(plugin) == plugin


@pytest.mark.parametrize(
    "plugin", ["", "Left-Pad", "@acme", "@acme/", "@/x", ".hidden", "_x", "a b", "a/b", "x" * 215]
)
def test_npm_names_refused(plugin: str) -> None:
    """Names npm would not publish are refused."""
    with pytest.raises(InvalidRolloutError, match="plugin"):
        validate_plugin(plugin)


@pytest.mark.parametrize("version", ["2.3.0", "1.0.0-rc.1", "1.0.0+build.5", "10.20.30"])
def test_exact_versions_accepted(version: str) -> None:
    """Exact versions, with pre-release and build parts, pass."""
    assert validate_version(version) == version


@pytest.mark.parametrize("version", ["", "^2.3.0", "~1", ">=1.0.0", "1.x || 2", "*", "v1.0.0"])
def test_ranges_and_junk_refused(version: str) -> None:
    """Ranges, wildcards and prefixed versions are not a version to roll out."""
    with pytest.raises(InvalidRolloutError, match="version"):
        validate_version(version)


@pytest.mark.parametrize("value", ["", "a b", "x" * 257, "tab\there"])
def test_ids_refused(value: str) -> None:
    """Opaque ids must be 1..256 printable characters without spaces."""
    with pytest.raises(InvalidRolloutError, match="user_id"):
        validate_id("user_id", value)
