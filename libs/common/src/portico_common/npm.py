"""npm package names and exact versions: the one rule every service checks them by.

Names follow npm's rules (validate-npm-package-name). Every name must be non-empty,
without surrounding spaces, not start with a dot or an underscore, survive
`encodeURIComponent` unchanged (a scope `@scope/` aside) and not be a reserved name.
A *new* package (the plugin being installed) must also be lowercase, at most 214
characters and free of `~'!()*`; an old one (a peer such as `JSONStream`) may break
those three, which npm only warns about.

A version that names one npm release is exact semver 2.0.0 (the grammar semver.org
publishes, ASCII digits only) as node-semver accepts it in strict mode, minus its
coercions: no leading `v` or `=`, no surrounding spaces, at most 256 characters (npm's
limit), and MAJOR, MINOR and PATCH no larger than JavaScript integers hold exactly.
`published_version_problem` further refuses build metadata, which npm strips before
publishing, so the string is the one the registry lists.

Pure functions and errors: domain code may use them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from portico_common.errors import InvalidArgumentError

MAX_NAME_LENGTH = 214
# node-semver's MAX_LENGTH; npm refuses longer versions.
MAX_VERSION_LENGTH = 256
# node-semver refuses a numeric component a JavaScript number cannot hold exactly.
MAX_SAFE_INTEGER = 2**53 - 1
VERSION_FORM = "MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]"

_RESERVED = frozenset({"node_modules", "favicon.ico"})
_SCOPED = re.compile(r"@([^/]+)/([^/]+)")
# What encodeURIComponent leaves alone: each part of a name must survive it.
_URL_SAFE = re.compile(r"[A-Za-z0-9\-_.!~*'()]+")
_SPECIAL = re.compile(r"[~'!()*]")
# semver.org's regular expression, matched whole and restricted to ASCII digits.
_SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
    r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?",
    re.ASCII,
)
# What `npm publish` strips before its strict parse (semver.clean).
_COERCED_PREFIX = re.compile(r"^[=v]+")


class InvalidPackageNameError(InvalidArgumentError):
    """A name breaks npm's package-name rules; the message lists every rule it breaks."""

    def __init__(
        self, name: str, problems: tuple[str, ...], field: str = "npm package name"
    ) -> None:
        super().__init__(f"invalid {field} {shown(name)}: {'; '.join(problems)}")
        self.name = name
        self.problems = problems
        self.field = field


class InvalidVersionError(InvalidArgumentError):
    """A version is not one exact npm version."""

    def __init__(self, version: str, problem: str, field: str = "version") -> None:
        super().__init__(f"invalid {field} {shown(version)}: {problem}")
        self.version = version
        self.problem = problem
        self.field = field


@dataclass(frozen=True, slots=True)
class PackageName:
    """A valid npm package name split into its scope (without `@`) and bare name."""

    scope: str | None
    name: str

    def __str__(self) -> str:
        return self.name if self.scope is None else f"@{self.scope}/{self.name}"


def shown(value: str, limit: int = 80) -> str:
    """`value` quoted for a message, cut short so an error never echoes a huge input."""
    return repr(value) if len(value) <= limit else repr(value[:limit]) + "..."


def name_rules_broken(name: str, *, new_package: bool = True) -> tuple[str, ...]:
    """Every npm naming rule `name` breaks, as phrases about it ("has uppercase letters")."""
    if not name:
        return ("is empty",)
    broken: list[str] = []
    if name != name.strip():
        broken.append("has leading or trailing spaces")
    if new_package and len(name) > MAX_NAME_LENGTH:
        broken.append(f"is longer than {MAX_NAME_LENGTH} characters ({len(name)})")
    if name.startswith("."):
        broken.append("starts with a dot")
    if name.startswith("_"):
        broken.append("starts with an underscore")
    if new_package and name.lower() != name:
        broken.append("has uppercase letters")
    if name.lower() in _RESERVED:
        broken.append("is reserved by npm")
    scoped = _SCOPED.fullmatch(name)
    if name.startswith("@") and scoped is None:
        broken.append("must be exactly '@scope/name', both parts non-empty")
        return tuple(broken)
    parts = scoped.groups() if scoped is not None else (name,)
    if any(_URL_SAFE.fullmatch(part) is None for part in parts):
        broken.append("can only contain URL-friendly characters")
    if new_package and _SPECIAL.search(parts[-1]):
        broken.append("cannot contain the characters ~'!()*")
    return tuple(broken)


def package_name_problems(name: str, *, new_package: bool = True) -> tuple[str, ...]:
    """Every npm naming rule `name` breaks, as sentences; empty when it is valid."""
    return tuple(f"name {rule}" for rule in name_rules_broken(name, new_package=new_package))


def package_name_problem(name: str, *, new_package: bool = True) -> str | None:
    """Why `name` is not a valid npm package name, in one line naming it; None if it is."""
    broken = name_rules_broken(name, new_package=new_package)
    return f"{shown(name)} {' and '.join(broken)}" if broken else None


def parse_package_name(
    name: str, *, field: str = "npm package name", new_package: bool = True
) -> PackageName:
    """Split a valid npm name into scope and name, or raise InvalidPackageNameError."""
    problems = package_name_problems(name, new_package=new_package)
    if problems:
        raise InvalidPackageNameError(name, problems, field)
    scoped = _SCOPED.fullmatch(name)
    if scoped is None:
        return PackageName(scope=None, name=name)
    return PackageName(scope=scoped.group(1), name=scoped.group(2))


def require_package_name(name: str, field: str = "npm package name") -> str:
    """`name` if it is valid for a new npm package; InvalidPackageNameError naming `field`."""
    parse_package_name(name, field=field)
    return name


def version_problem(version: str) -> str | None:
    """Why `version` is not one exact semver 2.0.0 version as npm reads it, or None."""
    if not version:
        return "version is empty"
    if len(version) > MAX_VERSION_LENGTH:
        return f"version is longer than {MAX_VERSION_LENGTH} characters"
    exact = _SEMVER.fullmatch(version)
    if exact is None:
        return f"not an exact semantic version ({VERSION_FORM})"
    for part, digits in zip(("major", "minor", "patch"), exact.groups()[:3], strict=True):
        if int(digits) > MAX_SAFE_INTEGER:
            return f"{part} version exceeds {MAX_SAFE_INTEGER}"
    return None


def published_version_problem(version: str) -> str | None:
    """Why `version` is not a version as the npm registry publishes it, or None.

    npm normalises a version before publishing it (no `v` or `=` prefix, no build
    metadata), so a published version equals its own normal form; when `version`
    only differs from one, the problem says which.
    """
    problem = version_problem(version)
    if problem is None and "+" not in version:
        return None
    normal = _COERCED_PREFIX.sub("", version.strip()).split("+", 1)[0]
    if normal != version and version_problem(normal) is None:
        return f"{shown(version)} is not written as npm publishes it; use {normal!r}"
    return f"{shown(version)} is not a valid version: {problem}"


def require_version(version: str, field: str = "version") -> str:
    """`version` if it is one exact npm version; InvalidVersionError naming `field`."""
    problem = version_problem(version)
    if problem is not None:
        raise InvalidVersionError(version, problem, field)
    return version


def require_published_version(version: str, field: str = "version") -> str:
    """`version` if it is written as npm publishes it; InvalidVersionError naming `field`."""
    problem = published_version_problem(version)
    if problem is not None:
        raise InvalidVersionError(version, problem, field)
    return version
