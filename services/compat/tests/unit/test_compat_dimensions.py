"""The api, runtime-release and permissions dimensions, and how a report sums them up."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from portico_compat.domain.apis import (
    ApiBaseline,
    ApiProvision,
    ApiRequirement,
    HostApi,
    HostApiCatalog,
    check_apis,
)
from portico_compat.domain.checks import HostState, Installed, dimension_steps, run_check
from portico_compat.domain.compatibility import CompatReport, HostProfile
from portico_compat.domain.permissions import (
    Decision,
    PermissionBaseline,
    PermissionPolicy,
    PermissionRule,
    check_permissions,
)
from portico_compat.domain.plugins import PluginRequirements
from portico_compat.domain.releases import (
    ReleaseManifest,
    parse_published_manifest,
    release_findings,
)
from portico_compat.domain.report import ReportDimension, Verdict
from portico_compat.domain.resources import Quota, Resources, TenantResources, Usage
from portico_compat.errors import (
    InvalidApiCatalogError,
    InvalidPermissionPolicyError,
    InvalidPluginError,
    InvalidReleaseManifestError,
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


# --- api ----------------------------------------------------------------------------------


def test_consumed_apis_are_reported_missing_removed_out_of_range_deprecated_or_met() -> None:
    """Each consumed API gets one finding whose verdict says what the catalog has for it."""
    report = check_apis(
        CATALOG,
        RELEASE,
        [
            ApiRequirement("core.discovery", "^1.2.0"),
            ApiRequirement("catalog.entities", "^1.0.0"),
            ApiRequirement("core.identity", "*"),
            ApiRequirement("legacy.router", ""),
            ApiRequirement("search.query", "^1.0.0"),
        ],
        [],
    )

    assert report.dimension is ReportDimension.API
    assert report.verdict is Verdict.FAIL
    assert verdicts(report.findings) == [
        ("core.discovery", Verdict.PASS),
        ("catalog.entities", Verdict.FAIL),
        ("core.identity", Verdict.WARN),
        ("legacy.router", Verdict.FAIL),
        ("search.query", Verdict.FAIL),
    ]
    reasons = [f.reason for f in report.findings]
    assert reasons[1] == "2.1.0 does not satisfy '^1.0.0'"
    assert reasons[2] == "deprecated: since 1.30; use 'auth.identity' instead"
    assert reasons[3] == "removed in Backstage 1.31.0; use 'core.routes' instead"
    assert reasons[4] == "missing: Backstage 1.31.0 has no API 'search.query'"
    assert report.summary == "5 checked: 3 fail, 1 warn, 1 pass"


def test_deprecated_api_alone_is_a_warning() -> None:
    """A deprecated but present API warns without failing the dimension."""
    report = check_apis(CATALOG, RELEASE, [ApiRequirement("core.identity", "^1.0.0")], [])

    assert report.verdict is Verdict.WARN


def test_consumed_apis_without_a_catalog_fail_safe() -> None:
    """With no catalog for the release, consumed APIs cannot be verified, so the dimension fails."""
    report = check_apis(None, RELEASE, [ApiRequirement("core.discovery", "^1.0.0")], [])

    assert report.verdict is Verdict.FAIL
    assert "no host API catalog is recorded for Backstage 1.31.0" in report.findings[0].reason


def test_a_plugin_consuming_nothing_passes_the_api_dimension() -> None:
    """Nothing consumed means nothing to miss, even without a catalog."""
    report = check_apis(None, RELEASE, [], [ApiProvision("cost.insights", "1.0.0")])

    assert (report.verdict, report.summary, report.findings) == (
        Verdict.PASS,
        "no host APIs consumed",
        (),
    )


def test_upgrade_reports_apis_the_installed_version_used_that_the_host_dropped() -> None:
    """An API the installed version used and the host removed is a breaking change on upgrade."""
    baseline = ApiBaseline("2.2.0", (ApiRequirement("legacy.router", "^0.9.0"),), ())

    report = check_apis(CATALOG, RELEASE, [], [], baseline)

    (finding,) = report.findings
    assert finding.name == "legacy.router"
    assert finding.outcome is Verdict.WARN
    assert finding.reason.startswith("breaking change on upgrade: installed 2.2.0 uses")


def test_upgrade_reports_a_provided_api_dropped_or_bumped_a_major() -> None:
    """Dropping a provided API, or moving it to a new major, breaks its consumers."""
    baseline = ApiBaseline(
        "2.2.0", (), (ApiProvision("cost.insights", "1.3.0"), ApiProvision("cost.export", "1.0.0"))
    )

    report = check_apis(CATALOG, RELEASE, [], [ApiProvision("cost.insights", "2.0.0")], baseline)

    assert [(f.name, f.outcome) for f in report.findings] == [
        ("cost.insights", Verdict.WARN),
        ("cost.export", Verdict.WARN),
    ]
    assert "goes from 1.3.0 to 2.0.0" in report.findings[0].reason
    assert "the new version drops it" in report.findings[1].reason


def test_compatible_provided_api_on_upgrade_is_not_a_break() -> None:
    """A provided API kept within its major is no finding at all."""
    baseline = ApiBaseline("2.2.0", (), (ApiProvision("cost.insights", "1.3.0"),))

    report = check_apis(CATALOG, RELEASE, [], [ApiProvision("cost.insights", "1.4.0")], baseline)

    assert report.findings == ()


@pytest.mark.parametrize(
    ("apis", "message"),
    [
        ([HostApi("a", "1.0.0"), HostApi("a", "1.1.0")], "'a' is listed twice"),
        ([HostApi("", "1.0.0")], "an API name is empty"),
        ([HostApi("a b", "1.0.0")], "contains whitespace"),
        ([HostApi("a", "1.0")], "'a' version '1.0'"),
        ([HostApi("a", "1.0.0", deprecation="x" * 2001)], "over-long text"),
    ],
)
def test_malformed_catalogs_are_refused(apis: list[HostApi], message: str) -> None:
    """A catalog with a duplicate, unnamed or unversioned API is InvalidApiCatalogError."""
    with pytest.raises(InvalidApiCatalogError, match=message):
        HostApiCatalog.of("acme", RELEASE, apis)


def test_catalog_release_must_be_a_version() -> None:
    """A catalog is keyed by a Backstage release version."""
    with pytest.raises(InvalidApiCatalogError, match="backstage_release"):
        HostApiCatalog.of("acme", "latest", [])


# --- runtime: the release manifest ---------------------------------------------------------


def test_backstage_packages_must_line_up_with_the_release_manifest() -> None:
    """Each @backstage/* range is checked against the version the release ships."""
    findings = release_findings(
        MANIFEST,
        RELEASE,
        {"@backstage/plugin-catalog-react": "^1.12.0", "lodash": "^4.0.0"},
        {"@backstage/core-plugin-api": "^1.11.0", "@backstage/plugin-search": "^1.0.0"},
    )

    assert [(f.name, f.satisfied, f.host_version) for f in findings] == [
        ("@backstage/core-plugin-api", False, "1.10.0"),
        ("@backstage/plugin-catalog-react", True, "1.14.0"),
        ("@backstage/plugin-search", False, ""),
    ]
    assert findings[0].reason.startswith("Backstage 1.31.0 ships 1.10.0, outside '^1.11.0'")
    assert findings[2].reason == "not part of Backstage 1.31.0"


def test_without_a_manifest_the_alignment_is_a_warning_not_a_pass() -> None:
    """An unrecorded release manifest is said plainly: one WARN finding naming the RPC."""
    (finding,) = release_findings(None, RELEASE, {}, {"@backstage/core-plugin-api": "^1.9.0"})

    assert finding.outcome is Verdict.WARN
    assert "SetReleaseManifest" in finding.reason


def test_no_backstage_packages_means_no_release_findings() -> None:
    """A plugin without @backstage/* dependencies has nothing to line up."""
    assert release_findings(None, RELEASE, {"lodash": "^4"}, {"react": "^18"}) == []


@pytest.mark.parametrize(
    ("packages", "message"),
    [
        ({}, "at least one package"),
        ({"lodash": "4.17.21"}, "is not a @backstage/\\* package"),
        ({"@backstage/core-plugin-api": "1.10"}, "version '1.10'"),
    ],
)
def test_malformed_manifests_are_refused(packages: dict[str, str], message: str) -> None:
    """A manifest must list @backstage/* packages at exact versions."""
    with pytest.raises(InvalidReleaseManifestError, match=message):
        ReleaseManifest("acme", RELEASE, packages)


# --- permissions --------------------------------------------------------------------------


def test_permissions_are_decided_by_the_most_specific_rule() -> None:
    """An exact rule beats a prefix, a prefix beats the default."""
    report = check_permissions(
        POLICY,
        ["catalog.entity.read", "catalog.entity.delete", "scaffolder.task.create", "kube.exec"],
    )

    assert verdicts(report.findings) == [
        ("catalog.entity.delete", Verdict.FAIL),
        ("catalog.entity.read", Verdict.PASS),
        ("kube.exec", Verdict.FAIL),
        ("scaffolder.task.create", Verdict.NEEDS_APPROVAL),
    ]
    assert report.findings[0].reason == "deny by rule 'catalog.entity.delete'"
    assert report.findings[2].reason == "deny by the policy's default"
    assert report.verdict is Verdict.FAIL


def test_without_a_policy_every_permission_needs_approval() -> None:
    """No policy allows nothing by omission: each permission needs an approval."""
    report = check_permissions(None, ["catalog.entity.read"])

    assert report.verdict is Verdict.NEEDS_APPROVAL
    assert report.findings[0].reason == "needs approval by no permission policy is recorded"


def test_new_permissions_on_upgrade_are_escalations_needing_approval() -> None:
    """A permission the installed version did not request needs approval even if allowed."""
    baseline = PermissionBaseline("2.2.0", frozenset({"catalog.entity.read"}))

    report = check_permissions(POLICY, ["catalog.entity.read", "catalog.location.create"], baseline)

    assert verdicts(report.findings) == [
        ("catalog.entity.read", Verdict.PASS),
        ("catalog.location.create", Verdict.NEEDS_APPROVAL),
    ]
    assert report.findings[1].reason == (
        "allow by rule 'catalog.*'; escalation: installed 2.2.0 did not request this one"
    )


def test_denied_escalation_stays_denied() -> None:
    """An escalation never softens a deny into an approval."""
    baseline = PermissionBaseline("2.2.0", frozenset())

    report = check_permissions(POLICY, ["catalog.entity.delete"], baseline)

    assert report.findings[0].outcome is Verdict.FAIL


def test_upgrade_from_a_version_never_checked_treats_every_permission_as_new() -> None:
    """Without a baseline check every requested permission is an escalation (fail safe)."""
    report = check_permissions(POLICY, ["catalog.entity.read"], PermissionBaseline("2.2.0", None))

    assert report.findings[0].outcome is Verdict.NEEDS_APPROVAL
    assert "no check of installed 2.2.0 is recorded" in report.findings[0].reason


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ((PermissionRule("", Decision.ALLOW),), "a pattern is empty"),
        ((PermissionRule("a b", Decision.ALLOW),), "contains whitespace"),
        ((PermissionRule("a", Decision.ALLOW), PermissionRule("a", Decision.DENY)), "two rules"),
    ],
)
def test_malformed_policies_are_refused(rules: tuple[PermissionRule, ...], message: str) -> None:
    """A policy with an empty, spaced or duplicated pattern is InvalidPermissionPolicyError."""
    with pytest.raises(InvalidPermissionPolicyError, match=message):
        PermissionPolicy("acme", rules)


def test_a_lone_wildcard_rule_matches_everything() -> None:
    """`*` is a valid pattern: the tenant's own catch-all."""
    policy = PermissionPolicy("acme", (PermissionRule("*", Decision.ALLOW),), Decision.DENY)

    assert policy.decide("anything.at.all") == (Decision.ALLOW, "rule '*'")


# --- the manifest and the report ----------------------------------------------------------


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


# --- resources (the other engineer's check, as the report's fourth dimension) -------------

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


PUBLISHED = json.dumps(
    {
        "releaseVersion": RELEASE,
        "packages": [
            {"name": "@backstage/core-plugin-api", "version": "1.10.0"},
            {"name": "@backstage/plugin-catalog-react", "version": "1.14.0"},
        ],
    }
)


def test_a_published_backstage_manifest_is_read_as_is() -> None:
    """The document versions.backstage.io publishes becomes the release's package map."""
    manifest = parse_published_manifest("acme", RELEASE, PUBLISHED)

    assert manifest == MANIFEST


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{", "not JSON"),
        ("[]", "expected an object with a 'packages' list"),
        (PUBLISHED.replace(RELEASE, "1.30.0"), "is for release '1.30.0', not '1.31.0'"),
        (
            json.dumps({"releaseVersion": RELEASE, "packages": [{"name": "@backstage/x"}]}),
            "needs a string 'name' and 'version'",
        ),
        (
            json.dumps(
                {
                    "releaseVersion": RELEASE,
                    "packages": [
                        {"name": "@backstage/x", "version": "1.0.0"},
                        {"name": "@backstage/x", "version": "1.0.1"},
                    ],
                }
            ),
            "listed with two versions",
        ),
        (" " * (2 * 1024 * 1024 + 1), "larger than"),
    ],
)
def test_malformed_published_manifests_are_refused(document: str, message: str) -> None:
    """A published manifest of the wrong shape, release or size is refused with the reason."""
    with pytest.raises(InvalidReleaseManifestError, match=message):
        parse_published_manifest("acme", RELEASE, document)
