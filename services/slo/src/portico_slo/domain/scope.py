"""What an SLO watches: every version of a plugin, one version, or one rollout's canary."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from portico_slo.errors import InvalidSloDefinitionError


class ScopeKind(StrEnum):
    PLUGIN = "plugin"
    VERSION = "version"
    # The users a rollout moved to the new version, and only while it runs.
    CANARY = "canary"


@dataclass(frozen=True, slots=True)
class Scope:
    """The outcomes an SLO counts: those of its plugin, narrowed to a version or a cohort."""

    kind: ScopeKind
    plugin: str
    version: str = ""
    rollout_id: str = ""

    def __post_init__(self) -> None:
        if not self.plugin:
            raise InvalidSloDefinitionError("plugin", "must not be empty")
        if self.kind is ScopeKind.PLUGIN and (self.version or self.rollout_id):
            raise InvalidSloDefinitionError("version", "a plugin-wide SLO names no version")
        if self.kind is not ScopeKind.PLUGIN and not self.version:
            raise InvalidSloDefinitionError("version", f"a {self.kind} SLO needs a version")
        if (self.kind is ScopeKind.CANARY) != bool(self.rollout_id):
            raise InvalidSloDefinitionError(
                "rollout_id", "a canary SLO needs the rollout id, and only a canary SLO has one"
            )

    @classmethod
    def of(cls, plugin: str, version: str = "", rollout_id: str = "") -> Scope:
        """The narrowest scope the fields describe."""
        if rollout_id:
            return cls(ScopeKind.CANARY, plugin, version, rollout_id)
        if version:
            return cls(ScopeKind.VERSION, plugin, version)
        return cls(ScopeKind.PLUGIN, plugin)

    def matches(self, plugin: str, version: str, rollout_id: str = "") -> bool:
        """Whether an outcome of plugin@version (in `rollout_id`'s canary, if set) counts."""
        if plugin != self.plugin:
            return False
        if self.kind is ScopeKind.PLUGIN:
            return True
        if version != self.version:
            return False
        return self.kind is ScopeKind.VERSION or rollout_id == self.rollout_id

    @property
    def default_name(self) -> str:
        """A name unique per scope: `plugin`, `plugin@version`, `plugin@version~rollout`."""
        if self.kind is ScopeKind.PLUGIN:
            return self.plugin
        if self.kind is ScopeKind.VERSION:
            return f"{self.plugin}@{self.version}"
        return f"{self.plugin}@{self.version}~{self.rollout_id}"
