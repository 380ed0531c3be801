"""A compatibility check as it is recorded: who asked, about what, and the verdict."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from portico_compat.domain.compatibility import CompatReport, HostProfile, check_compatibility
from portico_compat.domain.plugins import PluginRequirements


@dataclass(frozen=True, slots=True)
class CompatCheck:
    """One check of one plugin version against one tenant's host, at one moment."""

    check_id: str
    tenant_id: str
    plugin: str
    version: str
    report: CompatReport
    created_at: datetime

    @property
    def compatible(self) -> bool:
        return self.report.compatible


def run_check(
    check_id: str, host: HostProfile, plugin: PluginRequirements, now: datetime
) -> CompatCheck:
    """Check `plugin` against `host`; an incompatible plugin is a verdict, not an error."""
    report = check_compatibility(
        host, plugin.plugin, plugin.version, plugin.engines, plugin.peer_dependencies
    )
    return CompatCheck(check_id, host.tenant_id, plugin.plugin, plugin.version, report, now)
