"""What a compatibility check is asked about: a plugin version and its declared needs.

Names and versions follow the kernel's npm rule (`portico_common.npm`). The
plugin being installed must have a name valid for a *new* package; a peer or
dependency may be an old package (`JSONStream`), so its name only has to pass
the rules npm still enforces for old ones. The version must be written as the
registry publishes it (`2.3.0`, not `v2.3.0` or `2.3.0+build`), so that this
check's verdict joins the artifact verification of the very same version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from portico_common.npm import package_name_problem, published_version_problem
from portico_compat.domain.apis import ApiProvision, ApiRequirement, validate_declared_apis
from portico_compat.domain.permissions import validate_requested
from portico_compat.domain.resources import Resources
from portico_compat.errors import InvalidPluginError

# Far more than any package.json declares; keeps one request's work bounded.
MAX_REQUIREMENTS = 1000


@dataclass(frozen=True, slots=True)
class BackstageMetadata:
    """A package.json's `backstage` field: what kind of package it is, and its family.

    `role` is e.g. "frontend-plugin", "backend-plugin", "web-library"; `plugin_id`
    the plugin's id (shared by its frontend, backend and library packages);
    `plugin_packages` every package of that plugin.
    """

    role: str = ""
    plugin_id: str = ""
    plugin_packages: tuple[str, ...] = ()


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
    # Peers `peerDependenciesMeta` marks optional: absent is fine, present must fit.
    optional_peers: tuple[str, ...] = ()
    # The package.json's `backstage` field; None when it has none.
    backstage: BackstageMetadata | None = None

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
        _require_names("peerDependencies", self.peer_dependencies)
        _require_names("dependencies", self.dependencies)
        _require_names("peerDependenciesMeta", self.optional_peers)
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
        object.__setattr__(self, "optional_peers", tuple(sorted(set(self.optional_peers))))


def _require_names(field: str, names: Iterable[str]) -> None:
    """Peers and dependencies may be old packages: only npm's rules for those apply."""
    for name in names:
        problem = package_name_problem(name, new_package=False)
        if problem is not None:
            raise InvalidPluginError(field, problem)
