"""npm package names and exact versions."""

from __future__ import annotations

import pytest

from portico_security.verification.domain.package_names import (
    PackageName,
    package_name_problems,
    parse_package_name,
    validate_version,
    version_problem,
)
from portico_security.verification.errors import InvalidPackageNameError, InvalidVersionError


@pytest.mark.parametrize(
    "name",
    [
        "@acme/plugin-cost-insights",
        "@backstage/core-plugin-api",
        "react",
        "lodash.merge",
        "a",
        "x" * 214,
        "@a/b",
        "plugin_with_underscore",
        "9to5",
    ],
)
def test_valid_names_have_no_problems(name: str) -> None:
    """Names that follow npm's rules, scoped or not, have no problems."""
    assert package_name_problems(name) == ()


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "name is empty"),
        (" react", "name has leading or trailing spaces"),
        ("react ", "name has leading or trailing spaces"),
        ("x" * 215, "name is longer than 214 characters (215)"),
        (".hidden", "name starts with a dot"),
        ("_private", "name starts with an underscore"),
        ("React", "name has uppercase letters"),
        ("@Acme/plugin", "name has uppercase letters"),
        ("node_modules", "'node_modules' is a reserved name"),
        ("favicon.ico", "'favicon.ico' is a reserved name"),
        ("plugin/sub", "name can only contain URL-friendly characters"),
        ("plügin", "name can only contain URL-friendly characters"),
        ("plug in", "name can only contain URL-friendly characters"),
        ("@acme/plug%in", "name can only contain URL-friendly characters"),
        ("@acme", "a scoped name must be exactly '@scope/name', both parts non-empty"),
        ("@/plugin", "a scoped name must be exactly '@scope/name', both parts non-empty"),
        ("@acme/", "a scoped name must be exactly '@scope/name', both parts non-empty"),
        ("@acme/a/b", "a scoped name must be exactly '@scope/name', both parts non-empty"),
        ("plugin!", "name cannot contain the characters ~'!()*"),
        ("@acme/plugin(1)", "name cannot contain the characters ~'!()*"),
    ],
)
def test_invalid_names_name_their_problem(name: str, problem: str) -> None:
    """Each broken npm rule is reported as its own sentence."""
    assert problem in package_name_problems(name)


def test_every_problem_is_reported_at_once() -> None:
    """A name breaking several rules gets all of them, not just the first."""
    problems = package_name_problems("_Bad Name")
    assert "name starts with an underscore" in problems
    assert "name has uppercase letters" in problems
    assert "name can only contain URL-friendly characters" in problems


def test_parse_scoped_name() -> None:
    """A scoped name splits into scope and name and prints back unchanged."""
    parsed = parse_package_name("@acme/plugin-cost-insights")
    assert parsed == PackageName(scope="acme", name="plugin-cost-insights")
    assert str(parsed) == "@acme/plugin-cost-insights"


def test_parse_unscoped_name() -> None:
    """An unscoped name has no scope."""
    assert parse_package_name("react") == PackageName(scope=None, name="react")
    assert str(PackageName(scope=None, name="react")) == "react"


def test_parse_invalid_name_raises() -> None:
    """parse_package_name raises InvalidPackageNameError listing every problem."""
    with pytest.raises(InvalidPackageNameError) as caught:
        parse_package_name(".Bad")
    assert str(caught.value) == (
        "invalid npm package name '.Bad': name starts with a dot; name has uppercase letters"
    )
    assert caught.value.problems == ("name starts with a dot", "name has uppercase letters")


@pytest.mark.parametrize(
    "version",
    [
        "2.3.0",
        "0.0.0",
        "1.0.0-rc.1",
        "1.0.0-0.3.7",
        "1.0.0-x-y-z.--",
        "1.0.0+20130313144700",
        "1.0.0-beta+exp.sha.5114f85",
    ],
)
def test_exact_versions_are_valid(version: str) -> None:
    """Strict semver 2.0.0 versions, with prerelease and build metadata, are valid."""
    assert version_problem(version) is None
    assert validate_version(version) == version


@pytest.mark.parametrize(
    "version",
    [
        "1.2",
        "v1.2.3",
        "=1.2.3",
        "^1.2.3",
        "1.2.x",
        "01.2.3",
        "1.2.3-01",
        "1.2.3-",
        "1.2.3+",
        "1.2.3\n",
        " 1.2.3",
        "1.2.3.4",
        "latest",
        "\uff11.2.3",  # a full-width digit one
    ],
)
def test_inexact_or_malformed_versions_are_refused(version: str) -> None:
    """Ranges, tags, prefixes, leading zeros and non-ASCII digits are not exact versions."""
    assert version_problem(version) == (
        "not an exact semantic version (MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD])"
    )


def test_empty_and_overlong_versions_say_so() -> None:
    """An empty or over-long version gets its own reason."""
    assert version_problem("") == "version is empty"
    assert version_problem("1.0.0-" + "a" * 251) == "version is longer than 256 characters"


def test_validate_version_raises_invalid_version() -> None:
    """validate_version raises InvalidVersionError naming the version and the problem."""
    with pytest.raises(InvalidVersionError, match=r"invalid version '1\.2': not an exact"):
        validate_version("1.2")
