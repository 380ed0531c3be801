"""A check of every dimension: the plugin manifest, the report it sums up, resources."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portico_compat.domain.apis import (
    ApiProvision,
    ApiRequirement,
    HostApi,
    HostApiCatalog,
)
from portico_compat.domain.checks import HostState, Installed, dimension_steps, run_check
from portico_compat.domain.compatibility import CompatReport, HostProfile
from portico_compat.domain.permissions import (
    Decision,
    PermissionPolicy,
    PermissionRule,
)
from portico_compat.domain.plugins import PluginRequirements
from portico_compat.domain.releases import (
    ReleaseManifest,
)
from portico_compat.domain.report import ReportDimension, Verdict
from portico_compat.domain.resources import Quota, Resources, TenantResources, Usage
from portico_compat.errors import (
    InvalidPluginError,
)

RELEASE = "1.31.0"

NOW = datetime(2026, 3, 1, tzinfo=UTC)

PLUGIN = "@acme/plugin-cost-insights"

CATALOG = HostApiCatalog.of(
    "acme",
    RELEASE,
    [
        HostApi("core.discovery", "1.4.0"),
        HostApi("catalog.entities", "2.1.0"),
        HostApi("core.identity", "1.2.0", deprecation="since 1.30", replacement="auth.identity"),
        HostApi("legacy.router", "0.9.0", removed=True, replacement="core.routes"),
    ],
)

MANIFEST = ReleaseManifest(
    "acme",
    RELEASE,
    {"@backstage/core-plugin-api": "1.10.0", "@backstage/plugin-catalog-react": "1.14.0"},
)

POLICY = PermissionPolicy(
    "acme",
    (
        PermissionRule("catalog.*", Decision.ALLOW),
        PermissionRule("catalog.entity.delete", Decision.DENY),
        PermissionRule("scaffolder.*", Decision.NEEDS_APPROVAL),
    ),
    Decision.DENY,
)


def verdicts(findings: tuple[object, ...]) -> list[tuple[str, Verdict]]:
    return [(f.name, f.outcome) for f in findings]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"permissions": ("a", "a")}, "'a' is requested twice"),
        ({"permissions": ("catalog.*",)}, "a plugin requests exact permissions"),
        ({"consumes": (ApiRequirement("x"), ApiRequirement("x"))}, "declared twice"),
        ({"provides": (ApiProvision("x", "one"),)}, "'x' version 'one'"),
        ({"installed_version": "2.2"}, "installed_version"),
        ({"installed_version": "2.3.0"}, "equals the version checked"),
        ({"dependencies": {"Bad Name": "^1"}}, "invalid plugin dependencies"),
    ],
)
def test_bad_manifests_are_invalid_plugin_errors(fields: dict[str, object], message: str) -> None:
    """Malformed permissions, APIs, dependencies or installed versions are refused."""
    with pytest.raises(InvalidPluginError, match=message):
        PluginRequirements(PLUGIN, "2.3.0", **fields)  # type: ignore[arg-type]


def full_plugin(**changes: object) -> PluginRequirements:
    values: dict[str, object] = {
        "engines": {"node": ">=18"},
        "peer_dependencies": {"@backstage/core-plugin-api": "^1.9.0"},
        "consumes": (ApiRequirement("core.discovery", "^1.0.0"),),
        "permissions": ("catalog.entity.read",),
    }
    values.update(changes)
    return PluginRequirements(PLUGIN, "2.3.0", **values)  # type: ignore[arg-type]


HOST = HostProfile("acme", RELEASE, "20.11.1", {"@backstage/core-plugin-api": "1.10.0"})
STATE = HostState(HOST, CATALOG, MANIFEST, POLICY)


def test_a_check_has_every_dimension_in_order_and_passes_when_all_pass() -> None:
    """api, runtime, permissions and resources each report; all passing is compatible."""
    check = run_check("c1", STATE, full_plugin(), NOW)

    assert [(d.dimension, d.verdict) for d in check.report.dimensions] == [
        (ReportDimension.API, Verdict.PASS),
        (ReportDimension.RUNTIME, Verdict.PASS),
        (ReportDimension.PERMISSIONS, Verdict.PASS),
        (ReportDimension.RESOURCES, Verdict.PASS),
    ]
    assert check.compatible
    assert not check.report.approval_required
    assert check.report.findings == tuple(f for d in check.report.dimensions for f in d.findings)


def test_a_warning_keeps_the_check_compatible() -> None:
    """A deprecated API warns; warnings do not block."""
    plugin = full_plugin(consumes=(ApiRequirement("core.identity", "^1.0.0"),))

    check = run_check("c1", STATE, plugin, NOW)

    assert check.report.dimensions[0].verdict is Verdict.WARN
    assert check.compatible


def test_needing_approval_makes_the_check_incompatible_and_says_so() -> None:
    """Rollout only reads `compatible`, so a pending approval blocks, flagged as such."""
    check = run_check("c1", STATE, full_plugin(permissions=("scaffolder.task.create",)), NOW)

    assert not check.compatible
    assert check.report.approval_required


def test_the_installed_versions_check_is_the_upgrade_baseline() -> None:
    """Permissions and APIs of the installed version's last check drive escalations."""
    previous = run_check("c0", STATE, full_plugin(), NOW)
    upgrade = full_plugin(
        permissions=("catalog.entity.read", "catalog.location.create"),
        installed_version="2.2.0",
    )

    check = run_check("c1", STATE, upgrade, NOW, Installed("2.2.0", previous))

    permissions = check.report.dimensions[2]
    assert verdicts(permissions.findings) == [
        ("catalog.entity.read", Verdict.PASS),
        ("catalog.location.create", Verdict.NEEDS_APPROVAL),
    ]


def test_dimension_steps_are_lazy() -> None:
    """Listing the steps decides nothing; each is computed when called."""
    steps = list(dimension_steps(STATE, full_plugin()))

    assert [name for name, _ in steps] == list(ReportDimension)
    assert steps[1][1]().dimension is ReportDimension.RUNTIME


def test_report_without_dimensions_keeps_the_legacy_meaning() -> None:
    """A report made only of findings is compatible when they are all satisfied."""
    assert CompatReport(compatible=True, findings=()).approval_required is False


QUOTA = Quota(Resources(4000, 8192, 10240), max_plugins=10)
USAGE = Usage(Resources(3000, 4096, 0), plugins=10)
KNOWN = HostState(HOST, CATALOG, MANIFEST, POLICY, TenantResources(QUOTA, USAGE))


def test_declared_resources_are_checked_against_quota_minus_usage() -> None:
    """A new install needing more CPU than is left, or a slot when none is, fails resources."""
    check = run_check("c1", KNOWN, full_plugin(resources=Resources(1500, 512, 0)), NOW)

    resources = check.report.dimensions[3]
    assert resources.dimension is ReportDimension.RESOURCES
    assert [(f.name, f.satisfied) for f in resources.findings] == [
        ("cpu", False),
        ("memory", True),
        ("storage", True),
        ("plugins", False),
    ]
    assert resources.findings[0].host_version == "1000 of 4000 millicores available (3000 used)"
    assert not check.compatible


def test_an_upgrade_frees_what_the_installed_versions_check_declared() -> None:
    """Replacing the installed version frees its resources and keeps its plugin slot."""
    previous = run_check("c0", KNOWN, full_plugin(resources=Resources(1000, 512, 0)), NOW)
    upgrade = full_plugin(resources=Resources(1500, 512, 0), installed_version="2.2.0")

    check = run_check("c1", KNOWN, upgrade, NOW, Installed("2.2.0", previous))

    assert check.report.dimensions[3].verdict is Verdict.PASS
    assert check.resources == Resources(1500, 512, 0)


def test_an_upgrade_without_a_check_of_the_installed_version_counts_as_an_install() -> None:
    """Unknown holdings free nothing and take a slot: the fail-safe reading."""
    upgrade = full_plugin(resources=Resources(500, 512, 0), installed_version="2.2.0")

    check = run_check("c1", KNOWN, upgrade, NOW, Installed("2.2.0", None))

    plugins = check.report.dimensions[3].findings[3]
    assert (plugins.name, plugins.satisfied) == ("plugins", False)


def test_declared_resources_without_a_quota_fail_safe() -> None:
    """With no quota projected for the tenant, a resource request cannot pass."""
    check = run_check("c1", STATE, full_plugin(resources=Resources(1, 1, 1)), NOW)

    assert check.report.dimensions[3].verdict is Verdict.FAIL
