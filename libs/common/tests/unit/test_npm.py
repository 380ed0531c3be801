"""npm package names and exact versions: the kernel's one rule for both."""

from __future__ import annotations

import pytest

from portico_common.errors import InvalidArgumentError
from portico_common.npm import (
    InvalidPackageNameError,
    InvalidVersionError,
    PackageName,
    package_name_problem,
    package_name_problems,
    parse_package_name,
    published_version_problem,
    require_package_name,
    require_published_version,
    require_version,
    version_problem,
)

# -- names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "@acme/plugin-cost-insights",
        "@backstage/core-plugin-api",
        "@backstage/plugin-catalog.react",
        "react",
        "left-pad",
        "lodash.merge",
        "a",
        "a.b_c-d",
        "x" * 214,
        "@a/b",
        "plugin_with_underscore",
        "9to5",
    ],
)
def test_valid_names_have_no_problems(name: str) -> None:
    """Names that follow npm's rules, scoped or not, have no problems."""
    assert package_name_problems(name) == ()
    assert package_name_problem(name) is None
    assert require_package_name(name) == name


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "name is empty"),
        (" react", "name has leading or trailing spaces"),
        ("react ", "name has leading or trailing spaces"),
        ("   ", "name has leading or trailing spaces"),
        ("x" * 215, "name is longer than 214 characters (215)"),
        (".hidden", "name starts with a dot"),
        ("_private", "name starts with an underscore"),
        ("React", "name has uppercase letters"),
        ("@Acme/plugin", "name has uppercase letters"),
        ("node_modules", "name is reserved by npm"),
        ("favicon.ico", "name is reserved by npm"),
        ("plugin/sub", "name can only contain URL-friendly characters"),
        ("a/b", "name can only contain URL-friendly characters"),
        ("plügin", "name can only contain URL-friendly characters"),
        ("plug in", "name can only contain URL-friendly characters"),
        ("@acme/plug%in", "name can only contain URL-friendly characters"),
        ("@acme", "name must be exactly '@scope/name', both parts non-empty"),
        ("@/plugin", "name must be exactly '@scope/name', both parts non-empty"),
        ("@acme/", "name must be exactly '@scope/name', both parts non-empty"),
        ("@acme/a/b", "name must be exactly '@scope/name', both parts non-empty"),
        ("plugin!", "name cannot contain the characters ~'!()*"),
        ("a~b", "name cannot contain the characters ~'!()*"),
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


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "'' is empty"),
        (
            " react",
            "' react' has leading or trailing spaces and can only contain URL-friendly characters",
        ),
        (".hidden", "'.hidden' starts with a dot"),
        ("_private", "'_private' starts with an underscore"),
        ("node_modules", "'node_modules' is reserved by npm"),
        ("@acme", "'@acme' must be exactly '@scope/name', both parts non-empty"),
        ("plugin cost", "'plugin cost' can only contain URL-friendly characters"),
        ("@acme/Cost", "'@acme/Cost' has uppercase letters"),
        ("cost!", "'cost!' cannot contain the characters ~'!()*"),
    ],
)
def test_the_one_line_problem_names_the_name_and_its_rules(name: str, problem: str) -> None:
    """package_name_problem quotes the name and joins the rules it breaks."""
    assert package_name_problem(name) == problem


def test_an_overlong_name_is_cut_short_in_the_message() -> None:
    """A name over 214 characters is refused; the message quotes only its first 80."""
    problem = package_name_problem("x" * 300)
    assert problem == f"{'x' * 80!r}... is longer than 214 characters (300)"


@pytest.mark.parametrize("name", ["JSONStream", "Foo!", "x" * 300])
def test_old_package_rules_allow_what_npm_only_warns_about(name: str) -> None:
    """Peers may be old packages: uppercase, ~'!()* and long names pass the old rules."""
    assert package_name_problem(name, new_package=False) is None
    assert package_name_problem(name) is not None


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


def test_a_refused_name_is_invalid_argument_naming_the_field() -> None:
    """require_package_name names the request field, so the caller knows what to fix."""
    with pytest.raises(InvalidPackageNameError) as caught:
        require_package_name("Left-Pad", field="plugin")
    assert str(caught.value) == "invalid plugin 'Left-Pad': name has uppercase letters"
    assert caught.value.field == "plugin"
    assert isinstance(caught.value, InvalidArgumentError)
    assert caught.value.code == "INVALID_ARGUMENT"


def test_error_messages_keep_their_shape() -> None:
    """Both errors render their inputs into one sentence and carry INVALID_ARGUMENT."""
    assert str(InvalidPackageNameError("A", ("x", "y"))) == "invalid npm package name 'A': x; y"
    assert str(InvalidVersionError("1", "short")) == "invalid version '1': short"
    assert InvalidVersionError("1", "short").code == "INVALID_ARGUMENT"


# -- versions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "version",
    [
        "2.3.0",
        "0.0.0",
        "10.20.30",
        "1.0.0-rc.1",
        "1.0.0-0.3.7",
        "1.0.0-x-y-z.--",
        "1.0.0+20130313144700",
        "1.0.0+build.5",
        "1.0.0-beta+exp.sha.5114f85",
        f"{2**53 - 1}.0.0",
    ],
)
def test_exact_versions_are_valid(version: str) -> None:
    """Strict semver 2.0.0 versions, with prerelease and build metadata, are valid."""
    assert version_problem(version) is None
    assert require_version(version) == version


@pytest.mark.parametrize(
    "version",
    [
        "1.0.0.0.0-",
        "1.2",
        "v1.2.3",
        "=1.2.3",
        "^1.2.3",
        "~1",
        ">=1.0.0",
        "1.x || 2",
        "*",
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


def test_empty_overlong_and_oversized_versions_say_so() -> None:
    """An empty or over-long version, or one beyond JavaScript's integers, gets its own reason."""
    assert version_problem("") == "version is empty"
    assert version_problem("1.0.0-" + "a" * 251) == "version is longer than 256 characters"
    assert version_problem(f"1.{2**53}.0") == "minor version exceeds 9007199254740991"


def test_a_refused_version_is_invalid_argument_naming_the_field() -> None:
    """require_version names the request field and the problem."""
    with pytest.raises(InvalidVersionError) as caught:
        require_version("1.0.0.0.0-", field="version")
    assert str(caught.value) == (
        "invalid version '1.0.0.0.0-': "
        "not an exact semantic version (MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD])"
    )
    with pytest.raises(InvalidVersionError, match=r"^invalid installed_version '1\.2'"):
        require_version("1.2", field="installed_version")


@pytest.mark.parametrize(
    ("version", "problem"),
    [
        ("2.3.0", None),
        ("2.3.0-rc.1", None),
        ("v2.3.0", "'v2.3.0' is not written as npm publishes it; use '2.3.0'"),
        ("=v2.3.0", "'=v2.3.0' is not written as npm publishes it; use '2.3.0'"),
        ("2.3.0+build.5", "'2.3.0+build.5' is not written as npm publishes it; use '2.3.0'"),
        ("2.3", "'2.3' is not a valid version: not an exact semantic version"),
        ("", "'' is not a valid version: version is empty"),
    ],
)
def test_published_version_form(version: str, problem: str | None) -> None:
    """A version as the registry lists it is exact semver without a prefix or build metadata."""
    found = published_version_problem(version)
    if problem is None:
        assert found is None
        assert require_published_version(version) == version
    else:
        assert found is not None
        assert found.startswith(problem)
        with pytest.raises(InvalidVersionError):
            require_published_version(version)
