"""npm package names and exact versions, checked before anything trusts them.

Names follow npm's rules for new packages (validate-npm-package-name):
lowercase, at most 214 characters, URL-safe, no leading dot or underscore,
no `~'!()*`, no surrounding spaces, not a reserved name; a scope is `@scope/`.
An artifact is one exact version, so versions must be strict semver 2.0.0
(the grammar from semver.org), as npm requires of a published version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from portico_security.verification.errors import InvalidPackageNameError, InvalidVersionError

MAX_NAME_LENGTH = 214
# node-semver's limit; npm refuses longer versions.
MAX_VERSION_LENGTH = 256
_RESERVED = frozenset({"node_modules", "favicon.ico"})
_SCOPED = re.compile(r"@([^/]+)/([^/]+)")
# What encodeURIComponent leaves alone: a name part must survive it unchanged.
_URL_SAFE = re.compile(r"[A-Za-z0-9\-_.!~*'()]+")
_SPECIAL = re.compile(r"[~'!()*]")
# The regular expression semver.org publishes, anchored with fullmatch and
# restricted to ASCII digits.
_SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
    r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?",
    re.ASCII,
)


@dataclass(frozen=True, slots=True)
class PackageName:
    """A valid npm package name split into its scope (without `@`) and bare name."""

    scope: str | None
    name: str

    def __str__(self) -> str:
        return self.name if self.scope is None else f"@{self.scope}/{self.name}"


def package_name_problems(name: str) -> tuple[str, ...]:
    """Every npm naming rule `name` breaks, as sentences; empty when it is valid."""
    if not name:
        return ("name is empty",)
    problems: list[str] = []
    if name != name.strip():
        problems.append("name has leading or trailing spaces")
    if len(name) > MAX_NAME_LENGTH:
        problems.append(f"name is longer than {MAX_NAME_LENGTH} characters ({len(name)})")
    if name.startswith("."):
        problems.append("name starts with a dot")
    if name.startswith("_"):
        problems.append("name starts with an underscore")
    if name.lower() != name:
        problems.append("name has uppercase letters")
    if name.lower() in _RESERVED:
        problems.append(f"{name.lower()!r} is a reserved name")
    problems.extend(_part_problems(name))
    return tuple(problems)


def _part_problems(name: str) -> list[str]:
    scoped = _SCOPED.fullmatch(name)
    if name.startswith("@") and scoped is None:
        return ["a scoped name must be exactly '@scope/name', both parts non-empty"]
    parts = scoped.groups() if scoped is not None else (name,)
    problems = []
    if any(not _URL_SAFE.fullmatch(part) for part in parts):
        problems.append("name can only contain URL-friendly characters")
    if _SPECIAL.search(parts[-1]):
        problems.append("name cannot contain the characters ~'!()*")
    return problems


def parse_package_name(name: str) -> PackageName:
    """Split a valid npm name into scope and name, or raise InvalidPackageNameError."""
    problems = package_name_problems(name)
    if problems:
        raise InvalidPackageNameError(name, problems)
    scoped = _SCOPED.fullmatch(name)
    if scoped is None:
        return PackageName(scope=None, name=name)
    return PackageName(scope=scoped.group(1), name=scoped.group(2))


def version_problem(version: str) -> str | None:
    """Why `version` is not an exact semver 2.0.0 version, or None if it is."""
    if not version:
        return "version is empty"
    if len(version) > MAX_VERSION_LENGTH:
        return f"version is longer than {MAX_VERSION_LENGTH} characters"
    if _SEMVER.fullmatch(version) is None:
        return "not an exact semantic version (MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD])"
    return None


def validate_version(version: str) -> str:
    """Return `version` unchanged, or raise InvalidVersionError saying what is wrong."""
    problem = version_problem(version)
    if problem is not None:
        raise InvalidVersionError(version, problem)
    return version
