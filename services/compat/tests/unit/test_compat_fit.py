"""Which release a plugin needs, which version fits: the domain rules on real manifests."""

from __future__ import annotations

from typing import Any

from portico_compat.domain.checks import HostState
from portico_compat.domain.compatibility import HostProfile
from portico_compat.domain.fit import newest_fitting, on_release, required_release
from portico_compat.domain.packages import requirements_from_package_json
from portico_compat.domain.releases import parse_published_manifest
from portico_compat.domain.solver import PackageVersion

SPEC = "@backstage/plugin-catalog@1.32.0"


def test_moving_to_a_release_takes_its_versions_and_keeps_the_rest(backstage: Any) -> None:
    """A profile pinning core-plugin-api 1.9.4 moves to 1.45.0's 1.12.0; React stays."""
    manifest = parse_published_manifest("acme", "1.45.0", backstage.manifest("1.45.0"))
    host = HostProfile(
        "acme", "1.31.0", "20.18.0", {"@backstage/core-plugin-api": "1.9.4", "react": "18.3.1"}
    )

    moved = on_release(host, manifest)

    assert moved.host.backstage_version == "1.45.0"
    assert dict(moved.host.packages) == {"react": "18.3.1"}
    assert moved.release_manifest is manifest


def test_the_host_profile_pins_are_what_the_current_release_is_judged_on(backstage: Any) -> None:
    """A 1.45.0 host whose profile still pins core-plugin-api 1.9.4 fails now, fits on 1.45.0."""
    manifests = [
        parse_published_manifest("acme", r, backstage.manifest(r)) for r in ("1.45.0", "1.31.0")
    ]
    host = HostProfile(
        "acme",
        "1.45.0",
        "20.18.0",
        {"@backstage/core-plugin-api": "1.9.4", "react": "18.3.1", "react-dom": "18.3.1"}
        | {"react-router-dom": "6.28.0"},
    )
    plugin = requirements_from_package_json(backstage.package_json(SPEC))

    answer = required_release(
        host, manifests, plugin, HostState(host, release_manifest=manifests[0])
    )

    assert not answer.current.fits
    assert [(f.release, f.fits) for f in answer.releases] == [("1.31.0", False), ("1.45.0", True)]
    assert answer.earliest is not None
    assert answer.earliest.release == "1.45.0"


def test_prereleases_and_unreadable_versions_are_not_offered(backstage: Any) -> None:
    """`next` builds are skipped; a version npm could not read is said so and passed over."""
    manifest = parse_published_manifest("acme", "1.45.0", backstage.manifest("1.45.0"))
    state = HostState(HostProfile("acme", "1.45.0", "20.18.0", {}), release_manifest=manifest)
    versions = [
        PackageVersion("x", "2.0.0-next.1"),
        PackageVersion("x", "1.1.0", dependencies={"Bad Name": "^1"}),
        PackageVersion("x", "1.0.0"),
    ]

    answer = newest_fitting(state, versions)

    assert [(t.version, t.fits) for t in answer.tried] == [("1.1.0", False), ("1.0.0", True)]
    assert "invalid plugin dependencies" in answer.tried[0].unreadable
