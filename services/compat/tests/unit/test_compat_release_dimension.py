"""The runtime dimension's release manifest: @backstage/* packages against the release."""

from __future__ import annotations

import json

import pytest

from portico_compat.domain.releases import (
    ReleaseManifest,
    parse_published_manifest,
    release_findings,
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
        ({"@backstage/core-plugin-api": "v1.10.0"}, "version 'v1.10.0': not an exact"),
        ({"@backstage/core plugin": "1.10.0"}, "'@backstage/core plugin' can only contain"),
    ],
)
def test_malformed_manifests_are_refused(packages: dict[str, str], message: str) -> None:
    """A manifest must list @backstage/* packages at exact versions."""
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
