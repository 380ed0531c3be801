"""Validating what a check is asked about: plugin name and version, requirement names."""

from __future__ import annotations

import pytest

from portico_common.tenants import InvalidTenantIdError, require_tenant_id
from portico_compat.domain.plugins import (
    MAX_REQUIREMENTS,
    PluginRequirements,
    package_name_problem,
)
from portico_compat.domain.ranges import published_version_problem
from portico_compat.errors import InvalidPluginError

PLUGIN = "@acme/plugin-cost-insights"


@pytest.mark.parametrize(
    "name", [PLUGIN, "react", "backstage-plugin-x", "@backstage/core-plugin-api", "a.b_c-d"]
)
def test_valid_new_package_names_pass(name: str) -> None:
    """Lowercase, URL-safe names, scoped or not, are valid names for a new plugin."""
    assert package_name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        (
            " react",
            "' react' has leading or trailing spaces and can only contain URL-friendly characters",
        ),
        (".hidden", "'.hidden' starts with a dot or an underscore"),
        ("_private", "'_private' starts with a dot or an underscore"),
        ("node_modules", "'node_modules' is a reserved name"),
        ("@acme", "'@acme' is not of the form '@scope/name'"),
        ("@acme/a/b", "'@acme/a/b' is not of the form '@scope/name'"),
        ("plugin cost", "'plugin cost' can only contain URL-friendly characters"),
        ("@acme/Cost", "'@acme/Cost' has uppercase letters"),
        ("cost!", "'cost!' contains one of the characters ~'!()*"),
    ],
)
def test_invalid_new_package_names_name_the_rule(name: str, problem: str) -> None:
    """Each npm naming rule a plugin name breaks is named in the problem."""
    assert package_name_problem(name) == problem


def test_overlong_name_is_refused_and_cut_short_in_the_message() -> None:
    """A name over 214 characters is refused; the message quotes only its first 80."""
    problem = package_name_problem("x" * 300)
    assert problem == f"{'x' * 80!r}... is longer than 214 characters"


@pytest.mark.parametrize("name", ["JSONStream", "Foo!", "x" * 300])
def test_old_package_rules_allow_what_npm_only_warns_about(name: str) -> None:
    """Peers may be old packages: uppercase, ~'!()* and long names pass the old rules."""
    assert package_name_problem(name, new_package=False) is None
    assert package_name_problem(name) is not None


@pytest.mark.parametrize(
    ("version", "problem"),
    [
        ("2.3.0", None),
        ("2.3.0-rc.1", None),
        ("v2.3.0", "'v2.3.0' is not written as npm publishes it; use '2.3.0'"),
        ("2.3.0+build.5", "'2.3.0+build.5' is not written as npm publishes it; use '2.3.0'"),
        ("2.3", "'2.3' is not a valid version: not a semantic version"),
        ("", "'' is not a valid version"),
    ],
)
def test_published_version_form(version: str, problem: str | None) -> None:
    """A plugin version must be semver written the way the npm registry publishes it."""
    found = published_version_problem(version)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert found.startswith(problem)


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
        ({"plugin": ""}, "invalid plugin name: must not be empty"),
        ({"plugin": "Cost"}, "invalid plugin name: 'Cost' has uppercase letters"),
        ({"version": "v2.3.0"}, "invalid plugin version: 'v2.3.0' is not written as npm"),
        ({"engines": {"": ">=18"}}, "invalid plugin engines: engine name '' is empty or padded"),
        ({"engines": {" node": ">=18"}}, "invalid plugin engines: engine name ' node'"),
        ({"peer_dependencies": {"": "*"}}, "invalid plugin peerDependencies: must not be empty"),
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
