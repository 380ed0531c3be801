"""The runtime dimension's release manifest: peers and dependencies against the release."""

from __future__ import annotations

import json

import pytest

from portico_compat.domain.compatibility import Finding
from portico_compat.domain.installs import HostPackages, install_findings
from portico_compat.domain.releases import (
    ReleaseManifest,
    parse_published_manifest,
)
from portico_compat.domain.report import Verdict
from portico_compat.errors import (
    InvalidReleaseManifestError,
)

RELEASE = "1.31.0"

MANIFEST = ReleaseManifest(
    "acme",
    RELEASE,
    {"@backstage/core-plugin-api": "1.10.0", "@backstage/plugin-catalog-react": "1.14.0"},
)


def release_findings(
    manifest: ReleaseManifest | None,
    dependencies: dict[str, str],
    peers: dict[str, str],
    profile: dict[str, str] | None = None,
) -> list[Finding]:
    return install_findings(HostPackages(RELEASE, profile or {}, manifest), dependencies, peers)


def test_backstage_packages_must_line_up_with_the_release_manifest() -> None:
    """Each peer and each dependency the release ships is checked against its version."""
    findings = release_findings(
        MANIFEST,
        {"@backstage/plugin-catalog-react": "^1.12.0", "lodash": "^4.0.0"},
        {"@backstage/core-plugin-api": "^1.11.0", "@backstage/plugin-search": "^1.0.0"},
    )

    assert [(f.name, f.satisfied, f.host_version) for f in findings] == [
        ("@backstage/core-plugin-api", False, "1.10.0"),
        ("@backstage/plugin-search", False, ""),
        ("@backstage/plugin-catalog-react", True, "1.14.0"),
    ]
    assert findings[0].reason.startswith("Backstage 1.31.0 ships 1.10.0, outside '^1.11.0'")
    assert findings[1].reason == "not part of Backstage 1.31.0"


def test_without_a_manifest_the_alignment_is_a_warning_not_a_pass() -> None:
    """An unrecorded release manifest is said plainly: one WARN finding naming the RPC."""
    findings = release_findings(
        None, {}, {"@backstage/core-plugin-api": "^1.9.0"}, {"@backstage/core-plugin-api": "1.9.4"}
    ) + release_findings(None, {"@backstage/catalog-client": "^1.7.0"}, {})

    assert [f.outcome for f in findings] == [Verdict.PASS, Verdict.WARN, Verdict.WARN]
    assert all("1 @backstage/* ranges were not lined up" in f.reason for f in findings[1:])
    assert "SetReleaseManifest" in findings[2].reason


def test_no_backstage_packages_means_no_release_findings() -> None:
    """A plugin without @backstage/* dependencies has nothing to line up."""
    assert release_findings(None, {"lodash": "^4"}, {}) == []


def test_a_dependency_outside_a_singletons_range_fails_as_a_second_copy() -> None:
    """npm nests a duplicate; for a package that must be single, that breaks the app."""
    (finding,) = release_findings(MANIFEST, {"@backstage/core-plugin-api": "^1.11.0"}, {})

    assert (finding.outcome, finding.host_version) == (Verdict.FAIL, "1.10.0")
    assert finding.reason == (
        "Backstage 1.31.0 ships 1.10.0, outside '^1.11.0': npm would nest a second copy of"
        " @backstage/core-plugin-api, which must be single in an app (two copies break it at"
        " run time)"
    )


def test_any_other_dependency_outside_its_range_is_a_warning_with_its_cost() -> None:
    """A duplicate of an ordinary package works: a WARN naming the extra copy."""
    (finding,) = release_findings(MANIFEST, {"@backstage/plugin-catalog-react": "^1.15.0"}, {})

    assert (finding.outcome, finding.satisfied) == (Verdict.WARN, False)
    assert finding.reason.endswith(
        "npm nests 1 extra copy of @backstage/plugin-catalog-react inside the plugin"
    )


def test_peers_stay_strict_and_the_hosts_profile_wins_over_the_release() -> None:
    """A peer out of range fails whatever the package; the profile's version is the one used."""
    findings = release_findings(
        MANIFEST,
        {},
        {"@backstage/plugin-catalog-react": "^1.15.0", "react": "^18.0.0"},
        {"@backstage/plugin-catalog-react": "1.15.2", "react": "17.0.2"},
    )

    assert [(f.name, f.outcome, f.host_version) for f in findings] == [
        ("@backstage/plugin-catalog-react", Verdict.PASS, "1.15.2"),
        ("react", Verdict.FAIL, "17.0.2"),
    ]
    assert findings[1].reason == "17.0.2 does not satisfy '^18.0.0'"


def test_an_optional_peer_may_be_absent_but_must_fit_when_present() -> None:
    """peerDependenciesMeta's optional peers pass when absent and are strict when present."""
    host = HostPackages(RELEASE, {"@types/react": "16.14.0"}, MANIFEST)

    absent = install_findings(
        HostPackages(RELEASE, {}, MANIFEST),
        {},
        {"@types/react": "^18"},
        optional_peers=["@types/react"],
    )
    present = install_findings(host, {}, {"@types/react": "^18"}, optional_peers=["@types/react"])

    assert [(f.outcome, f.reason) for f in absent] == [
        (Verdict.PASS, "optional peer, not installed on the host")
    ]
    assert [f.outcome for f in present] == [Verdict.FAIL]


@pytest.mark.parametrize(
    ("packages", "message"),
    [
        ({}, "at least one package"),
        ({"@backstage/core-plugin-api": "1.10"}, "version '1.10'"),
        ({"@backstage/core-plugin-api": "v1.10.0"}, "version 'v1.10.0': not an exact"),
        ({"@backstage/core plugin": "1.10.0"}, "'@backstage/core plugin' can only contain"),
    ],
)
def test_malformed_manifests_are_refused(packages: dict[str, str], message: str) -> None:
    """A manifest must list valid package names at exact versions."""
    with pytest.raises(InvalidReleaseManifestError, match=message):
        ReleaseManifest("acme", RELEASE, packages)


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
