"""Real Backstage data: published manifests and plugins' package.json as npm serves them."""

from __future__ import annotations

from typing import Any

import pytest

from portico_compat.domain.checks import HostState, runtime_report
from portico_compat.domain.compatibility import Dimension, HostProfile
from portico_compat.domain.installs import DEFAULT_SINGLETONS
from portico_compat.domain.packages import requirements_from_package_json
from portico_compat.domain.plugins import BackstageMetadata
from portico_compat.domain.releases import ReleaseManifest, parse_published_manifest
from portico_compat.domain.report import Verdict

# What a Backstage 1.31/1.45 app has installed besides the release's packages.
REACT = {"react": "18.3.1", "react-dom": "18.3.1", "react-router-dom": "6.28.0"}


def manifest(backstage: Any, release: str) -> ReleaseManifest:
    return parse_published_manifest("acme", release, backstage.manifest(release))


def runtime(backstage: Any, release: str, spec: str) -> Any:
    host = HostProfile("acme", release, "20.18.0", REACT)
    plugin = requirements_from_package_json(backstage.package_json(spec))
    return runtime_report(HostState(host, release_manifest=manifest(backstage, release)), plugin)


def outcomes(report: Any) -> dict[str, Verdict]:
    """Every finding that is not a pass, by package name."""
    return {f.name: f.outcome for f in report.findings if f.outcome is not Verdict.PASS}


@pytest.mark.parametrize(("release", "count"), [("1.31.0", 178), ("1.45.0", 190)])
def test_the_real_published_manifests_are_accepted_with_every_package(
    backstage: Any, release: str, count: int
) -> None:
    """Backstage's own manifest reads whole, @techdocs/cli (outside @backstage/) included."""
    read = manifest(backstage, release)

    assert len(read.packages) == count
    assert "@techdocs/cli" in read.packages
    assert (
        read.packages["@backstage/core-plugin-api"]
        == {
            "1.31.0": "1.9.4",
            "1.45.0": "1.12.0",
        }[release]
    )


def test_every_real_package_json_is_read_with_its_backstage_field(backstage: Any) -> None:
    """name, version, engines, peers (optional ones too), dependencies and `backstage`."""
    specs = backstage.specs()
    plugins = [requirements_from_package_json(backstage.package_json(s)) for s in specs]

    assert len(plugins) == 12
    assert [f"{p.plugin}@{p.version}" for p in plugins] == specs
    catalog = next(
        p for p in plugins if (p.plugin, p.version) == ("@backstage/plugin-catalog", "1.32.0")
    )
    assert catalog.backstage == BackstageMetadata(
        "frontend-plugin",
        "catalog",
        (
            "@backstage/plugin-catalog",
            "@backstage/plugin-catalog-backend",
            "@backstage/plugin-catalog-common",
            "@backstage/plugin-catalog-node",
            "@backstage/plugin-catalog-react",
        ),
    )
    assert catalog.optional_peers == ("@types/react",)
    assert catalog.peer_dependencies["react"] == "^17.0.0 || ^18.0.0"
    assert catalog.dependencies["@backstage/core-plugin-api"] == "^1.12.0"
    backend = next(p for p in plugins if p.plugin == "@backstage/plugin-catalog-backend")
    assert backend.backstage is not None
    assert backend.backstage.role == "backend-plugin"


@pytest.mark.parametrize(
    "spec",
    [
        "@backstage/plugin-catalog@1.32.0",
        "@backstage/plugin-techdocs@1.16.0",
        "@backstage/plugin-search@1.5.0",
        "@backstage/plugin-scaffolder@1.34.3",
        "@backstage/plugin-catalog-backend@3.2.0",
        "@backstage/plugin-api-docs@0.13.1",
        "@backstage/plugin-org@0.6.46",
    ],
)
def test_a_plugin_of_a_release_passes_on_that_release(backstage: Any, spec: str) -> None:
    """Every range of a plugin Backstage 1.45.0 ships is met by 1.45.0 itself."""
    report = runtime(backstage, "1.45.0", spec)

    assert (report.verdict, outcomes(report)) == (Verdict.PASS, {})


def test_a_newer_plugin_on_an_older_release_fails_on_singletons_and_warns_on_the_rest(
    backstage: Any,
) -> None:
    """plugin-catalog 1.32.0 on 1.31.0: second copies of singletons fail, others warn."""
    report = runtime(backstage, "1.31.0", "@backstage/plugin-catalog@1.32.0")
    found = outcomes(report)

    assert report.verdict is Verdict.FAIL
    assert {n for n, v in found.items() if v is Verdict.FAIL} == {
        "@backstage/core-plugin-api",
        "@backstage/frontend-plugin-api",
        "@backstage/version-bridge",
    }
    assert set(found) - DEFAULT_SINGLETONS == {n for n, v in found.items() if v is Verdict.WARN}
    assert found["@backstage/catalog-client"] is Verdict.WARN
    assert len(found) == 18
    assert report.summary.endswith(
        "npm installs 18 extra copies next to the host's: @backstage/catalog-client,"
        " @backstage/catalog-model, @backstage/core-compat-api, @backstage/core-components,"
        " @backstage/core-plugin-api, @backstage/errors, @backstage/frontend-plugin-api,"
        " @backstage/integration-react, @backstage/plugin-catalog-common,"
        " @backstage/plugin-catalog-react, @backstage/plugin-permission-react,"
        " @backstage/plugin-scaffolder-common, @backstage/plugin-search-common,"
        " @backstage/plugin-search-react, @backstage/plugin-techdocs-common,"
        " @backstage/plugin-techdocs-react, @backstage/types, @backstage/version-bridge"
    )
    client = next(f for f in report.findings if f.name == "@backstage/catalog-client")
    assert (client.dimension, client.host_version, client.required_range) == (
        Dimension.DEPENDENCY,
        "1.7.0",
        "^1.12.1",
    )
    assert client.reason == (
        "Backstage 1.31.0 ships 1.7.0, outside '^1.12.1': npm nests 1 extra copy of"
        " @backstage/catalog-client inside the plugin"
    )


def test_a_backend_plugin_a_release_behind_only_warns(backstage: Any) -> None:
    """plugin-catalog-backend 3.2.0 on 1.31.0 uses no singleton: 13 duplicates, all warnings."""
    report = runtime(backstage, "1.31.0", "@backstage/plugin-catalog-backend@3.2.0")

    assert report.verdict is Verdict.WARN
    assert set(outcomes(report).values()) == {Verdict.WARN}
    assert "npm installs 13 extra copies" in report.summary


def test_peers_stay_strict_on_real_data(backstage: Any) -> None:
    """github-insights 2.0.1 wants React 16 or 17 as a peer: a React 18 host fails it."""
    report = runtime(backstage, "1.45.0", "@roadiehq/backstage-plugin-github-insights@2.0.1")

    assert outcomes(report) == {
        "react": Verdict.FAIL,
        "react-dom": Verdict.FAIL,
        "@backstage/core-components": Verdict.WARN,
        "@backstage/theme": Verdict.WARN,
    }
    react = next(f for f in report.findings if f.name == "react")
    assert (react.dimension, react.reason) == (
        Dimension.PEER,
        "18.3.1 does not satisfy '^16.13.1 || ^17.0.0'",
    )


def test_a_patch_behind_on_a_singleton_is_already_a_failure(backstage: Any) -> None:
    """plugin-kubernetes 0.12.14 wants core-plugin-api ^1.12.1; 1.45.0 ships 1.12.0."""
    report = runtime(backstage, "1.45.0", "@backstage/plugin-kubernetes@0.12.14")

    failed = {n for n, v in outcomes(report).items() if v is Verdict.FAIL}
    assert failed == {"@backstage/core-plugin-api", "@backstage/frontend-plugin-api"}


def test_the_singleton_list_is_configurable(backstage: Any) -> None:
    """With no singletons every duplicate is a warning; with more, more fail."""
    host = HostProfile("acme", "1.31.0", "20.18.0", REACT)
    plugin = requirements_from_package_json(
        backstage.package_json("@backstage/plugin-catalog-backend@3.2.0")
    )
    state = HostState(host, release_manifest=manifest(backstage, "1.31.0"))

    lenient = runtime_report(state, plugin, frozenset())
    strict = runtime_report(state, plugin, frozenset({"@backstage/backend-plugin-api"}))

    assert lenient.verdict is Verdict.WARN
    assert strict.verdict is Verdict.FAIL
