"""Checking a plugin's engines and peer ranges against a tenant's host profile."""

from __future__ import annotations

import re

import pytest

from portico_compat.domain.compatibility import (
    NOT_INSTALLED,
    UNKNOWN_ENGINE,
    CompatReport,
    Dimension,
    Finding,
    HostProfile,
    check_compatibility,
)
from portico_compat.errors import InvalidHostProfileError, InvalidPluginError

PLUGIN = "@acme/plugin-cost-insights"


@pytest.fixture
def host() -> HostProfile:
    """A host on Backstage 1.31.0 and Node 20.11.1 with two core packages."""
    return HostProfile(
        tenant_id="acme",
        backstage_version="1.31.0",
        node_version="20.11.1",
        packages={"@backstage/core-plugin-api": "1.10.0", "react": "18.3.1"},
    )


def check(
    host: HostProfile,
    engines: dict[str, str] | None = None,
    peers: dict[str, str] | None = None,
) -> CompatReport:
    return check_compatibility(host, PLUGIN, "2.3.0", engines or {}, peers or {})


def only(report: CompatReport) -> Finding:
    (finding,) = report.findings
    return finding


def test_fitting_plugin_is_compatible(host: HostProfile) -> None:
    """Engines and peers all met give a compatible report with one finding each."""
    report = check(
        host,
        engines={"node": ">=18", "backstage": "^1.28.0"},
        peers={"@backstage/core-plugin-api": "^1.9.0", "react": "^17.0.0 || ^18.0.0"},
    )
    assert report.compatible
    assert [(f.dimension, f.name, f.satisfied) for f in report.findings] == [
        (Dimension.RUNTIME, "backstage", True),
        (Dimension.RUNTIME, "node", True),
        (Dimension.PEER, "@backstage/core-plugin-api", True),
        (Dimension.PEER, "react", True),
    ]
    assert report.reasons == ()


def test_node_engine_is_checked_against_node_version(host: HostProfile) -> None:
    """engines.node too new for the host's Node makes the report incompatible."""
    report = check(host, engines={"node": ">=22"})
    assert not report.compatible
    finding = only(report)
    assert finding == Finding(
        Dimension.RUNTIME, "node", ">=22", "20.11.1", False, "20.11.1 does not satisfy '>=22'"
    )
    assert report.reasons == ("runtime node: 20.11.1 does not satisfy '>=22'",)


def test_backstage_engine_is_checked_against_backstage_version(host: HostProfile) -> None:
    """engines.backstage is compared with the host's Backstage release, not with Node."""
    finding = only(check(host, engines={"backstage": "^1.32.0"}))
    assert (finding.host_version, finding.satisfied) == ("1.31.0", False)


def test_node_prerelease_meets_engine_range() -> None:
    """A Node nightly meets `>=18`, as npm's engine check includes prereleases."""
    nightly = HostProfile("acme", "1.31.0", "v21.0.0-nightly20230429c968361829", {})
    assert check(nightly, engines={"node": "^14.18.0 || >=16.0.0"}).compatible


def test_engine_prerelease_of_named_release_does_not_meet_caret() -> None:
    """Node 22.0.0-rc.1 does not meet `^22.0.0`: the caret names 22.0.0 exactly."""
    rc = HostProfile("acme", "1.31.0", "22.0.0-rc.1", {})
    assert not check(rc, engines={"node": "^22.0.0"}).compatible


def test_unknown_engine_is_noted_not_failed(host: HostProfile) -> None:
    """An engine we have no version for is a satisfied finding saying it was not checked."""
    report = check(host, engines={"vscode": "^1.80.0"})
    assert report.compatible
    assert only(report) == Finding(Dimension.RUNTIME, "vscode", "^1.80.0", "", True, UNKNOWN_ENGINE)


def test_missing_peer_is_unsatisfied(host: HostProfile) -> None:
    """A peer the host does not have is unsatisfied with reason 'not installed on the host'."""
    report = check(host, peers={"@backstage/plugin-catalog-react": "^1.0.0"})
    assert not report.compatible
    finding = only(report)
    assert (finding.host_version, finding.satisfied, finding.reason) == ("", False, NOT_INSTALLED)


def test_peer_out_of_range_is_unsatisfied(host: HostProfile) -> None:
    """An installed peer outside the required range is unsatisfied with both versions named."""
    finding = only(check(host, peers={"react": "^19.0.0"}))
    assert not finding.satisfied
    assert finding.reason == "18.3.1 does not satisfy '^19.0.0'"


def test_invalid_peer_range_is_unsatisfied_with_reason(host: HostProfile) -> None:
    """A peer range npm cannot read as semver is unsatisfied, and the reason says why."""
    finding = only(check(host, peers={"react": "workspace:^"}))
    assert not finding.satisfied
    assert finding.reason.startswith("invalid range 'workspace:^'")


def test_invalid_engine_range_is_unsatisfied_with_reason(host: HostProfile) -> None:
    """An engines range that cannot be parsed is unsatisfied, not an exception."""
    finding = only(check(host, engines={"node": ">=eighteen"}))
    assert not finding.satisfied
    assert "invalid range" in finding.reason


def test_star_peer_accepts_prerelease_host_package() -> None:
    """A `*` peer range accepts any installed version, prereleases too, as npm's arborist does."""
    host = HostProfile("acme", "1.31.0", "20.11.1", {"react": "19.0.0-rc.1"})
    assert check(host, peers={"react": "*"}).compatible
    assert check(host, peers={"react": ""}).compatible
    assert not check(host, peers={"react": "^18.0.0"}).compatible


def test_peer_ranges_are_read_loosely(host: HostProfile) -> None:
    """Peer ranges use npm's loose grammar, so `>=1.9.0beta` is read as arborist reads it."""
    assert check(host, peers={"@backstage/core-plugin-api": ">=1.9.0beta"}).compatible


def test_no_requirements_is_compatible(host: HostProfile) -> None:
    """A plugin that declares nothing has no findings and is compatible."""
    report = check(host)
    assert report == CompatReport(compatible=True, findings=())


def test_one_failure_makes_the_whole_report_incompatible(host: HostProfile) -> None:
    """Compatible requires every finding satisfied; one miss among passes is enough to fail."""
    report = check(host, engines={"node": ">=18"}, peers={"react": "^19.0.0"})
    assert not report.compatible
    assert [f.satisfied for f in report.findings] == [True, False]


def test_plugin_without_name_is_rejected(host: HostProfile) -> None:
    """An empty plugin name raises InvalidPluginError."""
    with pytest.raises(InvalidPluginError, match="invalid plugin name: must not be empty"):
        check_compatibility(host, " ", "1.0.0", {}, {})


def test_plugin_with_invalid_version_is_rejected(host: HostProfile) -> None:
    """A plugin version that is not semver raises InvalidPluginError naming it."""
    with pytest.raises(InvalidPluginError, match=re.escape("'2.3' is not a valid version")):
        check_compatibility(host, PLUGIN, "2.3", {}, {})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tenant_id": ""}, "invalid host profile tenant_id: must not be empty"),
        ({"backstage_version": "1.31"}, "invalid host profile backstage_version: '1.31'"),
        ({"node_version": "twenty"}, "invalid host profile node_version: 'twenty'"),
        ({"packages": {"react": "^18.0.0"}}, "invalid host profile packages\\['react'\\]"),
        ({"packages": {"": "1.0.0"}}, "invalid host profile packages: a package name is empty"),
        ({"packages": {"react": "1.0.0.0.0-"}}, "packages\\['react'\\]: '1.0.0.0.0-' is not a"),
        ({"packages": {"react": "v18.3.1"}}, "packages\\['react'\\]: 'v18.3.1' is not a"),
        ({"packages": {"re act": "18.3.1"}}, "packages: 're act' can only contain URL-friendly"),
    ],
)
def test_invalid_host_profile_is_refused(overrides: dict[str, object], message: str) -> None:
    """A host profile with an empty tenant or a non-semver version raises a precise error."""
    fields: dict[str, object] = {
        "tenant_id": "acme",
        "backstage_version": "1.31.0",
        "node_version": "20.11.1",
        "packages": {},
    }
    fields.update(overrides)
    with pytest.raises(InvalidHostProfileError, match=message) as caught:
        HostProfile(**fields)  # type: ignore[arg-type]
    assert caught.value.code == "INVALID_ARGUMENT"


def test_host_profile_packages_cannot_change_afterwards() -> None:
    """The profile keeps its own read-only copy of the packages it was given."""
    packages = {"react": "18.3.1"}
    host = HostProfile("acme", "1.31.0", "20.11.1", packages)
    packages["react"] = "not even a version"
    assert host.packages["react"] == "18.3.1"
    with pytest.raises(TypeError):
        host.packages["react"] = "19.0.0"  # type: ignore[index]
