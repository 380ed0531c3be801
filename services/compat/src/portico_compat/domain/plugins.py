"""What a compatibility check is asked about: a plugin version and its declared needs.

Names follow npm's rules (validate-npm-package-name). The plugin being
installed must have a name valid for a *new* package: lowercase, at most 214
characters, URL-safe, no leading dot or underscore, none of `~'!()*`. A peer
may be an old package (`JSONStream`), so its name only has to pass the rules
npm still enforces for old ones. The version must be written as the registry
publishes it (`2.3.0`, not `v2.3.0` or `2.3.0+build`), so that this check's
verdict joins the artifact verification of the very same version.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from portico_compat.domain.apis import ApiProvision, ApiRequirement, validate_declared_apis
from portico_compat.domain.permissions import validate_requested
from portico_compat.domain.ranges import published_version_problem
from portico_compat.domain.resources import Resources
from portico_compat.errors import InvalidPluginError

MAX_NAME_LENGTH = 214
# Far more than any package.json declares; keeps one request's work bounded.
MAX_REQUIREMENTS = 1000
_RESERVED = frozenset({"node_modules", "favicon.ico"})
_SCOPED = re.compile(r"@([^/]+)/([^/]+)")
# What encodeURIComponent leaves unchanged: each part of a name must survive it.
_URL_SAFE = re.compile(r"[A-Za-z0-9\-_.!~*'()]+")
_SPECIAL = re.compile(r"[~'!()*]")


def package_name_problem(name: str, *, new_package: bool = True) -> str | None:
    """Why `name` is not a valid npm package name (every rule it breaks), or None."""
    if not name.strip():
        return "must not be empty"
    rules: list[tuple[bool, str]] = [
        (name != name.strip(), "has leading or trailing spaces"),
        (name.startswith((".", "_")), "starts with a dot or an underscore"),
        (name.lower() in _RESERVED, "is a reserved name"),
    ]
    scoped = _SCOPED.fullmatch(name)
    parts = scoped.groups() if scoped is not None else (name,)
    if name.startswith("@") and scoped is None:
        rules.append((True, "is not of the form '@scope/name'"))
    else:
        unsafe = any(_URL_SAFE.fullmatch(part) is None for part in parts)
        rules.append((unsafe, "can only contain URL-friendly characters"))
    if new_package:
        # npm only warns about these for old packages, but refuses to publish new ones.
        rules += [
            (len(name) > MAX_NAME_LENGTH, f"is longer than {MAX_NAME_LENGTH} characters"),
            (name.lower() != name, "has uppercase letters"),
            (_SPECIAL.search(parts[-1]) is not None, "contains one of the characters ~'!()*"),
        ]
    broken = [rule for failed, rule in rules if failed]
    return f"{_shown(name)} {' and '.join(broken)}" if broken else None


def _shown(name: str, limit: int = 80) -> str:
    """The name quoted for a message, cut short so an error never echoes a huge input."""
    return repr(name) if len(name) <= limit else repr(name[:limit]) + "..."


@dataclass(frozen=True, slots=True)
class PluginRequirements:
    """A plugin version and what its package.json asks of the host; validated on construction.

    Ranges are not validated here: a range npm cannot read is a finding of the
    check (the plugin cannot be installed), not malformed input.
    """

    plugin: str
    version: str
    engines: Mapping[str, str] = field(default_factory=dict)
    peer_dependencies: Mapping[str, str] = field(default_factory=dict)
    dependencies: Mapping[str, str] = field(default_factory=dict)
    consumes: tuple[ApiRequirement, ...] = ()
    provides: tuple[ApiProvision, ...] = ()
    permissions: tuple[str, ...] = ()
    # Set when the check is for an upgrade from this version.
    installed_version: str = ""
    # What the version needs to run; None when it declares nothing.
    resources: Resources | None = None

    def __post_init__(self) -> None:
        problem = package_name_problem(self.plugin)
        if problem is not None:
            raise InvalidPluginError("name", problem)
        problem = published_version_problem(self.version)
        if problem is not None:
            raise InvalidPluginError("version", problem)
        for engine in self.engines:
            if not engine.strip() or engine != engine.strip():
                raise InvalidPluginError("engines", f"engine name {engine!r} is empty or padded")
        for peer in self.peer_dependencies:
            problem = package_name_problem(peer, new_package=False)
            if problem is not None:
                raise InvalidPluginError("peerDependencies", problem)
        for dependency in self.dependencies:
            problem = package_name_problem(dependency, new_package=False)
            if problem is not None:
                raise InvalidPluginError("dependencies", problem)
        if self.installed_version:
            problem = published_version_problem(self.installed_version)
            if problem is not None:
                raise InvalidPluginError("installed_version", problem)
            if self.installed_version == self.version:
                raise InvalidPluginError(
                    "installed_version", "equals the version checked; leave it empty"
                )
        validate_declared_apis(self.consumes, self.provides)
        validate_requested(self.permissions)
        count = len(self.engines) + len(self.peer_dependencies) + len(self.dependencies)
        if count > MAX_REQUIREMENTS:
            raise InvalidPluginError(
                "requirements",
                f"{count} engines, peers and dependencies; at most {MAX_REQUIREMENTS} are checked",
            )
        object.__setattr__(self, "engines", MappingProxyType(dict(self.engines)))
        object.__setattr__(
            self, "peer_dependencies", MappingProxyType(dict(self.peer_dependencies))
        )
        object.__setattr__(self, "dependencies", MappingProxyType(dict(self.dependencies)))
        object.__setattr__(self, "consumes", tuple(self.consumes))
        object.__setattr__(self, "provides", tuple(self.provides))
        object.__setattr__(self, "permissions", tuple(self.permissions))
