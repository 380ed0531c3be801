"""npm range semantics: answers, reasons, and the corrections made to nodesemver."""

from __future__ import annotations

import nodesemver
import pytest

from portico_compat.domain.ranges import (
    MAX_VERSION_LENGTH,
    range_problem,
    satisfies,
    validate_range,
    validate_version,
    version_problem,
)
from portico_compat.errors import InvalidRangeError, InvalidVersionError


def test_satisfied_range_says_so() -> None:
    """A version inside the range is ok, and the reason names both."""
    check = satisfies("1.4.2", "^1.2.0")
    assert check.ok
    assert check.reason == "1.4.2 satisfies '^1.2.0'"


def test_unsatisfied_range_says_so() -> None:
    """A version outside the range is not ok, and the reason names both."""
    check = satisfies("2.0.0", "^1.2.0")
    assert not check.ok
    assert check.reason == "2.0.0 does not satisfy '^1.2.0'"


@pytest.mark.parametrize("version", ["glorp", "1.2", "", "1.2.3.4", " ", "01.2.3"])
def test_invalid_version_is_a_reasoned_no(version: str) -> None:
    """An invalid version returns ok False with the reason instead of raising."""
    check = satisfies(version, "*")
    assert not check.ok
    assert check.reason.startswith(f"invalid version {version!r}")


@pytest.mark.parametrize("range_", ["blah", ">=x.y", "^1.2.3.4", "1.2.3 -", "~>>1"])
def test_invalid_range_is_a_reasoned_no(range_: str) -> None:
    """An invalid range returns ok False with the reason instead of raising."""
    check = satisfies("1.2.3", range_)
    assert not check.ok
    assert check.reason.startswith(f"invalid range {range_!r}")


def test_non_string_version_is_a_reasoned_no() -> None:
    """A value that is not a string (as JSON may deliver) is an invalid version, not a crash."""
    check = satisfies(False, ">=2")  # type: ignore[arg-type]
    assert not check.ok
    assert "not a string" in check.reason


def test_non_string_range_is_a_reasoned_no() -> None:
    """A range that is not a string is an invalid range, not a crash."""
    check = satisfies("1.2.3", None)  # type: ignore[arg-type]
    assert not check.ok
    assert check.reason == "invalid range None: not a string"


def test_loose_mode_does_not_recover_partial_versions() -> None:
    """Loose mode rejects `1.2` as node-semver does, although nodesemver would recover it."""
    assert nodesemver.satisfies("1.2", "*", loose=True)  # the library's own answer
    assert not satisfies("1.2", "*", loose=True).ok


def test_loose_mode_accepts_what_node_semver_accepts() -> None:
    """Loose mode still reads `=v1.2.3` and a prerelease without its hyphen."""
    assert satisfies("=v1.2.3", "1.x", loose=True).ok
    assert satisfies("1.2.3beta", ">=1.2.3-alpha", loose=True).ok


def test_overlong_version_is_invalid() -> None:
    """A version longer than node-semver's 256-character limit is refused."""
    version = "1.2.3-" + "a" * MAX_VERSION_LENGTH
    check = satisfies(version, "*", include_prerelease=True)
    assert not check.ok
    assert "longer than 256" in check.reason


def test_unsafe_integer_component_is_invalid() -> None:
    """A component beyond 2**53-1 is refused, as JavaScript cannot hold it exactly."""
    check = satisfies(f"{2**53}.0.0", "*")
    assert not check.ok
    assert "major version exceeds" in check.reason


def test_prerelease_outside_named_tuple_explains_the_rule() -> None:
    """A prerelease within the bounds but excluded by npm's prerelease rule gets that reason."""
    check = satisfies("1.2.4-rc.1", "^1.2.0")
    assert not check.ok
    assert "is a prerelease" in check.reason


def test_prerelease_of_named_tuple_is_admitted() -> None:
    """A range naming a prerelease admits later prereleases of the same release."""
    assert satisfies("1.2.3-beta.4", "^1.2.3-beta.2").ok
    assert not satisfies("1.2.4-beta.4", "^1.2.3-beta.2").ok


@pytest.mark.parametrize(
    ("version", "range_"),
    [("1.0.0-rc1", "^1.0.0"), ("0.0.3-alpha", "^0.0.3"), ("0.2.3-alpha", "^0.2.3")],
)
def test_full_caret_lower_bound_stays_exact_with_prereleases(version: str, range_: str) -> None:
    """With prereleases included, `^X.Y.Z` still excludes X.Y.Z's own prereleases."""
    # nodesemver ignores prerelease order in this mode and says yes; npm says no.
    assert nodesemver.satisfies(version, range_, include_prerelease=True)
    assert not satisfies(version, range_, include_prerelease=True).ok


@pytest.mark.parametrize(
    ("version", "range_", "expected"),
    [
        ("1.0.0-rc1", ">=1.0.0", False),  # an explicit bound is exact
        ("1.0.0-rc1", "<1.0.0", True),  # 1.0.0-rc1 precedes 1.0.0
        ("1.0.0-rc1", "=1.0.0", False),
        ("1.2.3-rc1", ">=1.2.3-rc2", False),  # prerelease order is not ignored
        ("1.2.3-rc3", ">=1.2.3-rc2", True),
        ("1.2.3-rc", "~1.2.3", False),  # a full tilde names 1.2.3 exactly
        ("1.2.0-rc", "~1.2.*", True),  # a partial tilde starts at 1.2.0-0
        ("1.2.0-a", "^1.2", True),  # a partial caret starts at 1.2.0-0
        ("2.0.0-rc1", "^1.0.0", False),  # implied upper bounds are <2.0.0-0
        ("1.3.0-rc", "1.2.x", False),
        ("1.2.3-pre", "1.2.3 - 2.0.0", True),  # node-semver lowers a hyphen's start
        ("2.0.0-pre", "1.2.3 - 2.0.0", True),
        ("2.0.1-pre", "1.2.3 - 2.0.0", False),
        ("0.0.0-pre", "<*", False),  # nothing satisfies <*
        ("21.0.0-nightly20230429c968361829", "^14.18.0 || >=16.0.0", True),
    ],
)
def test_include_prerelease_follows_node_semver_7(
    version: str, range_: str, expected: bool
) -> None:
    """With prereleases included, implied bounds drop to -0 and named bounds stay exact."""
    assert satisfies(version, range_, include_prerelease=True).ok is expected


def test_release_versions_ignore_the_prerelease_option() -> None:
    """For a release version, including prereleases changes no answer."""
    for version in ("1.0.0", "1.9.9", "2.0.0", "0.9.9"):
        plain = satisfies(version, "^1.0.0").ok
        assert satisfies(version, "^1.0.0", include_prerelease=True).ok is plain


def test_version_problem_is_none_for_valid_versions() -> None:
    """A valid version has no problem; `v` prefixes are allowed as in node-semver."""
    assert version_problem("1.2.3-rc.1+build.5") is None
    assert version_problem("v20.11.1") is None


def test_version_problem_names_the_grammar() -> None:
    """An invalid version's problem says what shape was expected."""
    assert (
        version_problem("20") == "not a semantic version (MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD])"
    )


def test_range_problem_distinguishes_valid_and_invalid() -> None:
    """A valid range has no problem; an invalid one names the bad comparator."""
    assert range_problem(">=18 <22 || ^23.1") is None
    assert range_problem(">=eighteen") == "Invalid comparator: >=eighteen"


def test_validate_version_raises_invalid_version() -> None:
    """validate_version raises InvalidVersionError with the version in the message."""
    with pytest.raises(InvalidVersionError, match="invalid version 'latest'") as caught:
        validate_version("latest")
    assert caught.value.code == "INVALID_ARGUMENT"
    assert validate_version("1.0.0") == "1.0.0"


def test_validate_range_raises_invalid_range() -> None:
    """validate_range raises InvalidRangeError with the range in the message."""
    with pytest.raises(InvalidRangeError, match="invalid version range 'workspace:\\^'"):
        validate_range("workspace:^")
    assert validate_range("^1.0.0") == "^1.0.0"
