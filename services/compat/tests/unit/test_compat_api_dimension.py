"""The api dimension: consumed and provided APIs against the host API catalog."""

from __future__ import annotations

import pytest

from portico_compat.domain.apis import (
    ApiBaseline,
    ApiProvision,
    ApiRequirement,
    HostApi,
    HostApiCatalog,
    check_apis,
)
from portico_compat.domain.report import ReportDimension, Verdict
from portico_compat.errors import (
    InvalidApiCatalogError,
)

RELEASE = "1.31.0"


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


def verdicts(findings: tuple[object, ...]) -> list[tuple[str, Verdict]]:
    return [(f.name, f.outcome) for f in findings]  # type: ignore[attr-defined]


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
