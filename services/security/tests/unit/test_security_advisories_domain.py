"""OSV parsing, npm range semantics, severity and matching (domain, no I/O)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from portico_security.trust.domain.advisories import match_packages
from portico_security.trust.domain.osv import parse_document, parse_osv
from portico_security.trust.errors import InvalidAdvisoryError

V31_CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
V40_HIGH = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N"


def osv(
    *events: dict[str, str],
    name: str = "left-pad",
    range_type: str = "SEMVER",
    versions: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    affected: dict[str, Any] = {"package": {"ecosystem": "npm", "name": name}}
    if events:
        affected["ranges"] = [{"type": range_type, "events": list(events)}]
    if versions is not None:
        affected["versions"] = versions
    doc: dict[str, Any] = {
        "id": "GHSA-test-0001",
        "modified": "2026-01-01T00:00:00Z",
        "affected": [affected],
    }
    doc.update(extra)
    return doc


def affected(doc: dict[str, Any], version: str, package: str = "left-pad") -> bool:
    return parse_osv(doc, "test").affects(package, version) is not None


@pytest.mark.parametrize(
    ("version", "expected"),
    [("0.0.1", True), ("1.2.9", True), ("1.3.0", False), ("2.0.0", False)],
)
def test_introduced_zero_until_fixed(version: str, expected: bool) -> None:
    """`introduced: 0` covers everything below `fixed`, and `fixed` itself is safe."""
    doc = osv({"introduced": "0"}, {"fixed": "1.3.0"})
    assert affected(doc, version) is expected


@pytest.mark.parametrize(
    ("version", "expected"),
    [("0.9.9", False), ("1.0.0", True), ("1.4.2", True), ("1.4.3", False)],
)
def test_last_affected_is_inclusive(version: str, expected: bool) -> None:
    """`last_affected` is itself affected; the next patch is not; before `introduced` is not."""
    doc = osv({"introduced": "1.0.0"}, {"last_affected": "1.4.2"})
    assert affected(doc, version) is expected


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("2.0.0-alpha.1", False),
        ("2.0.0-beta.1", True),
        ("2.0.0-beta.10", True),
        ("2.0.0-rc.1", False),
        ("2.0.0", False),
    ],
)
def test_prereleases_compare_by_semver_precedence(version: str, expected: bool) -> None:
    """Prereleases order numerically by identifier (beta.2 < beta.10) and before the release."""
    doc = osv({"introduced": "2.0.0-beta.1"}, {"fixed": "2.0.0-rc.1"})
    assert affected(doc, version) is expected


def test_fixed_release_excludes_its_own_prereleases_only_below() -> None:
    """A prerelease of the fixed version sorts before it, so it is still affected."""
    doc = osv({"introduced": "0"}, {"fixed": "3.0.0"})
    assert affected(doc, "3.0.0-rc.1")
    assert not affected(doc, "3.0.1-rc.1")


def test_reintroduced_vulnerability_has_two_windows() -> None:
    """Events re-open a range after a fix: [1.0.0, 1.1.0) and [2.0.0, 2.0.5)."""
    doc = osv(
        {"introduced": "2.0.0"}, {"fixed": "2.0.5"}, {"introduced": "1.0.0"}, {"fixed": "1.1.0"}
    )
    results = {v: affected(doc, v) for v in ("0.9.0", "1.0.5", "1.5.0", "2.0.4", "2.0.5")}
    assert results == {
        "0.9.0": False,
        "1.0.5": True,
        "1.5.0": False,
        "2.0.4": True,
        "2.0.5": False,
    }


def test_limit_bounds_the_whole_range() -> None:
    """A version at or above `limit` is outside the range even with no fix event."""
    doc = osv({"introduced": "1.0.0"}, {"limit": "1.5.0"})
    assert affected(doc, "1.4.9")
    assert not affected(doc, "1.5.0")


def test_versions_list_is_affected_whatever_the_ranges() -> None:
    """An explicit `versions` entry matches even outside every range; others do not."""
    doc = osv({"introduced": "0"}, {"fixed": "1.0.0"}, versions=["1.2.0"])
    assert affected(doc, "1.2.0")
    assert not affected(doc, "1.1.0")


def test_build_metadata_is_ignored_for_precedence() -> None:
    """1.3.0+build.5 equals 1.3.0 in precedence, so the fix covers it."""
    doc = osv({"introduced": "0"}, {"fixed": "1.3.0"})
    assert not affected(doc, "1.3.0+build.5")


def test_ecosystem_ranges_are_compared_like_semver() -> None:
    """npm's ECOSYSTEM ranges use the same semver ordering as SEMVER ranges."""
    doc = osv({"introduced": "0"}, {"fixed": "1.10.0"}, range_type="ECOSYSTEM")
    assert affected(doc, "1.9.0")
    assert not affected(doc, "1.10.0")


def test_git_ranges_never_match_versions() -> None:
    """GIT ranges name commits, so a version never matches through one."""
    doc = osv({"introduced": "0"}, {"fixed": "a1b2c3d"}, range_type="GIT")
    assert not affected(doc, "1.0.0")


def test_other_ecosystems_are_not_kept() -> None:
    """A PyPI entry beside the npm one does not make the PyPI name match."""
    doc = osv({"introduced": "0"})
    doc["affected"].append(
        {
            "package": {"ecosystem": "PyPI", "name": "requests"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
        }
    )
    advisory = parse_osv(doc, "test")
    assert advisory.packages == frozenset({"left-pad"})


def test_severity_takes_the_highest_cvss_score() -> None:
    """Of a v4.0 and a v3.1 vector, the higher base score and its label win."""
    doc = osv(
        {"introduced": "0"},
        severity=[
            {"type": "CVSS_V4", "score": V40_HIGH},
            {"type": "CVSS_V3", "score": V31_CRITICAL},
        ],
    )
    severity = parse_osv(doc, "test").severity
    assert (severity.score, severity.label, severity.vector) == (9.8, "CRITICAL", V31_CRITICAL)


def test_cvss_v4_vector_is_scored() -> None:
    """A lone CVSS v4.0 vector gets its base score from the cvss library."""
    severity = parse_osv(
        osv({"introduced": "0"}, severity=[{"type": "CVSS_V4", "score": V40_HIGH}]), "t"
    ).severity
    assert severity.label == "HIGH"
    assert 7.0 <= severity.score < 9.0


def test_github_severity_label_without_a_vector() -> None:
    """Without a vector, GitHub's `MODERATE` label is kept as MEDIUM with score 0."""
    doc = osv({"introduced": "0"}, database_specific={"severity": "MODERATE"})
    severity = parse_osv(doc, "t").severity
    assert (severity.score, severity.label) == (0.0, "MEDIUM")


def test_no_severity_is_unknown() -> None:
    """An advisory with no severity at all says UNKNOWN rather than guessing."""
    assert parse_osv(osv({"introduced": "0"}), "t").severity.label == "UNKNOWN"


@pytest.mark.parametrize(
    ("mutate", "path", "problem"),
    [
        (lambda d: d.pop("id"), "$.id", "non-empty string"),
        (lambda d: d.update(modified="yesterday"), "$.modified", "RFC 3339"),
        (lambda d: d.update(modified="2026-01-01T00:00:00"), "$.modified", "time zone"),
        (lambda d: d.update(affected=[]), "$.affected", "no npm package"),
        (
            lambda d: d["affected"][0]["ranges"][0]["events"].append({"fixed": "1.x"}),
            "$.affected[0].ranges[0].events[1].fixed",
            "not a semantic version",
        ),
        (
            lambda d: d["affected"][0]["ranges"][0].update(events=[{"fixed": "1.0.0"}]),
            "$.affected[0].ranges[0].events",
            "no 'introduced'",
        ),
        (
            lambda d: d["affected"][0]["ranges"][0].update(type="DATE"),
            "$.affected[0].ranges[0].type",
            "is not one of",
        ),
        (
            lambda d: d["affected"][0]["ranges"][0]["events"].append(
                {"fixed": "1.0.0", "introduced": "0"}
            ),
            "$.affected[0].ranges[0].events[1]",
            "exactly one of",
        ),
        (
            lambda d: d.update(severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:X"}]),
            "$.severity[0].score",
            "bad CVSS_V3 vector",
        ),
        (
            lambda d: d["affected"][0].update(versions="1.0.0"),
            "$.affected[0].versions",
            "must be a list",
        ),
        (lambda d: d["affected"][0].pop("ranges"), "$.affected[0]", "neither ranges nor versions"),
    ],
)
def test_bad_documents_name_the_place_and_problem(mutate: Any, path: str, problem: str) -> None:
    """Each schema violation raises InvalidAdvisoryError with its JSON path and problem."""
    doc = osv({"introduced": "0"})
    mutate(doc)
    with pytest.raises(InvalidAdvisoryError) as caught:
        parse_osv(doc, "feed#3")
    assert caught.value.path == path
    assert problem in caught.value.problem
    assert "feed#3" in str(caught.value)


def test_non_json_is_refused() -> None:
    """Bytes that are not JSON are an InvalidAdvisoryError at `$`."""
    with pytest.raises(InvalidAdvisoryError, match="not JSON"):
        parse_document(b"{not json", "x.json")


def test_oversized_document_is_refused_before_parsing() -> None:
    """A document over 1 MiB is refused without being decoded."""
    with pytest.raises(InvalidAdvisoryError, match="larger than"):
        parse_document(b" " * (1024 * 1024 + 1), "big.json")


def test_match_reports_fixed_versions_and_the_upgrade() -> None:
    """A match lists every fixed version ascending and the lowest one above the version."""
    doc = osv(
        {"introduced": "0"},
        {"fixed": "1.2.4"},
        {"introduced": "2.0.0"},
        {"fixed": "2.1.1"},
        severity=[{"type": "CVSS_V3", "score": V31_CRITICAL}],
    )
    advisory = parse_osv(json.loads(json.dumps(doc)), "t")
    (match,) = match_packages([advisory], [("left-pad", "2.0.3", False)])
    assert match.fixed_versions == ("1.2.4", "2.1.1")
    assert match.upgrade_to == "2.1.1"
    assert not match.direct


def test_withdrawn_advisories_never_match() -> None:
    """A withdrawn advisory is kept but matches nothing."""
    doc = osv({"introduced": "0"}, withdrawn="2026-02-01T00:00:00Z")
    assert match_packages([parse_osv(doc, "t")], [("left-pad", "1.0.0", True)]) == []


def test_matches_sort_worst_first() -> None:
    """Matches come worst severity first, whichever package they concern."""
    low = osv({"introduced": "0"}, name="a", id="LOW-1", severity=[])
    high = osv(
        {"introduced": "0"},
        name="b",
        id="HIGH-1",
        severity=[{"type": "CVSS_V3", "score": V31_CRITICAL}],
    )
    advisories = [parse_osv(low, "t"), parse_osv(high, "t")]
    matches = match_packages(advisories, [("a", "1.0.0", True), ("b", "1.0.0", False)])
    assert [m.advisory_id for m in matches] == ["HIGH-1", "LOW-1"]


def test_nul_characters_are_refused_before_storage() -> None:
    """A NUL in any string (PostgreSQL cannot store it) is a precise error, not a failed INSERT."""
    doc = osv({"introduced": "0"}, summary="bad\x00summary")
    with pytest.raises(InvalidAdvisoryError, match="NUL character"):
        parse_osv(doc, "t")


def test_overlong_ids_are_refused() -> None:
    """An advisory id over 256 characters is refused at `$.id`."""
    doc = osv({"introduced": "0"}, id="G" * 257)
    with pytest.raises(InvalidAdvisoryError) as caught:
        parse_osv(doc, "t")
    assert caught.value.path == "$.id"


def test_escaped_backslash_u0000_text_is_not_a_nul() -> None:
    """The six characters `\\u0000` in a summary are text, not a NUL, and are accepted."""
    doc = osv({"introduced": "0"}, summary="literal \\u0000 in prose")
    assert parse_osv(doc, "t").summary == "literal \\u0000 in prose"


@pytest.mark.parametrize("depth", [40, 900, 100_000])
def test_deep_nesting_is_refused_precisely(depth: int) -> None:
    """Absurdly nested JSON is an InvalidAdvisoryError about nesting, never a RecursionError."""
    prefix = json.dumps(osv({"introduced": "0"}))[:-1]
    raw = f'{prefix}, "database_specific": {"[" * depth}{"]" * depth}}}'
    with pytest.raises(InvalidAdvisoryError, match="nested deeper than 32 levels"):
        parse_document(raw, "deep.json")
