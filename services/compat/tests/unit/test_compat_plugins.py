"""Validating what a check is asked about: plugin name and version, requirement names.

The npm rule itself (names, exact and published versions) is the kernel's and is
tested with it (libs/common/tests/unit/test_npm.py); here, how a check applies it.
"""

from __future__ import annotations

import pytest

from portico_common.tenants import InvalidTenantIdError, require_tenant_id
from portico_compat.domain.plugins import MAX_REQUIREMENTS, PluginRequirements
from portico_compat.errors import InvalidPluginError

PLUGIN = "@acme/plugin-cost-insights"


def test_requirements_keep_a_read_only_copy() -> None:
    """Engines and peers are copied and frozen, so a check cannot see them change."""
    engines = {"node": ">=18"}
    requirements = PluginRequirements(PLUGIN, "2.3.0", engines, {"react": "^18"})
    engines["node"] = ">=99"
    assert requirements.engines["node"] == ">=18"
    with pytest.raises(TypeError):
        requirements.peer_dependencies["react"] = "*"  # type: ignore[index]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"plugin": ""}, "invalid plugin name: '' is empty"),
        ({"plugin": "a~b"}, "invalid plugin name: 'a~b' cannot contain the characters ~'!()*"),
        ({"version": "1.0.0.0.0-"}, "invalid plugin version: '1.0.0.0.0-' is not a valid version"),
        ({"version": "2.3.0+build.5"}, "invalid plugin version: '2.3.0+build.5' is not written"),
        ({"installed_version": "^2.0.0"}, "invalid plugin installed_version: '^2.0.0' is not"),
        ({"dependencies": {"b c": "*"}}, "invalid plugin dependencies: 'b c' can only contain"),
        ({"plugin": "Cost"}, "invalid plugin name: 'Cost' has uppercase letters"),
        ({"version": "v2.3.0"}, "invalid plugin version: 'v2.3.0' is not written as npm"),
        ({"engines": {"": ">=18"}}, "invalid plugin engines: engine name '' is empty or padded"),
        ({"engines": {" node": ">=18"}}, "invalid plugin engines: engine name ' node'"),
        ({"peer_dependencies": {"": "*"}}, "invalid plugin peerDependencies: '' is empty"),
        (
            {"peer_dependencies": {"a b": "*"}},
            "invalid plugin peerDependencies: 'a b' can only contain URL-friendly",
        ),
        (
            {"peer_dependencies": {f"p{i}": "*" for i in range(MAX_REQUIREMENTS + 1)}},
            "invalid plugin requirements: 1001 engines, peers and dependencies; at most 1000",
        ),
    ],
)
def test_malformed_requirements_are_refused(fields: dict[str, object], message: str) -> None:
    """A bad name, version or requirement name is InvalidPluginError (INVALID_ARGUMENT)."""
    values: dict[str, object] = {
        "plugin": PLUGIN,
        "version": "2.3.0",
        "engines": {},
        "peer_dependencies": {},
    }
    values.update(fields)
    with pytest.raises(InvalidPluginError) as caught:
        PluginRequirements(**values)  # type: ignore[arg-type]
    assert str(caught.value).startswith(message)
    assert caught.value.code == "INVALID_ARGUMENT"


def test_peers_and_dependencies_may_be_old_packages() -> None:
    """An old package's name (uppercase, as npm once allowed) passes as a peer or dependency."""
    requirements = PluginRequirements(
        PLUGIN, "2.3.0", {}, {"JSONStream": "^1"}, dependencies={"JSONStream": "^1"}
    )
    assert set(requirements.peer_dependencies) == {"JSONStream"}


def test_ranges_are_not_validated_as_input() -> None:
    """An unreadable range is accepted here: the check turns it into a finding."""
    requirements = PluginRequirements(PLUGIN, "2.3.0", {"node": ">=eighteen"}, {"react": "x y z"})
    assert requirements.engines == {"node": ">=eighteen"}


@pytest.mark.parametrize("tenant", ["acme", "a1", "acme-eu-2", "x" * 63])
def test_tenant_ids_of_tenancy_pass(tenant: str) -> None:
    """Ids the tenancy service issues are accepted unchanged."""
    assert require_tenant_id(tenant) == tenant


@pytest.mark.parametrize("tenant", ["", "*", "a", "Acme", "-acme", "acme-", "ac_me", "x" * 64])
def test_other_tenant_ids_are_refused(tenant: str) -> None:
    """Anything else, '*' (every tenant, to row-level security) above all, is refused."""
    with pytest.raises(InvalidTenantIdError, match="invalid tenant_id"):
        require_tenant_id(tenant)
