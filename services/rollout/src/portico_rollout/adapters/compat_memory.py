"""An in-memory dependency graph: what unit tests and `portico demo`-style worlds use.

It is told, per plugin version, which installed plugins need it (in
rollback order), and records every question it was asked; `fail_next`
makes the next question fail as if compat were down, and a tenant in `down`
gets only failures until it is taken out.
"""

from __future__ import annotations

from collections.abc import Sequence

from portico_rollout.app.ports import FoundDependents, InstalledPlugin
from portico_rollout.domain.saga import DependentPlugin
from portico_rollout.errors import DependencyGraphUnavailableError


class MemoryDependencyGraph:
    """DependencyGraph answering from what `needs` declared."""

    def __init__(self) -> None:
        self._dependents: dict[tuple[str, str], list[DependentPlugin]] = {}
        self.asked: list[tuple[str, InstalledPlugin, tuple[InstalledPlugin, ...]]] = []
        self._failures = 0
        # Tenants whose questions fail, as if compat could not be reached for them.
        self.down: set[str] = set()

    def needs(self, dependent: str, version: str, on: str, on_version: str, depth: int = 1) -> None:
        """Declares that `dependent@version` needs `on@on_version`."""
        found = self._dependents.setdefault((on, on_version), [])
        found.append(DependentPlugin(dependent, version, f"{on} {on_version}", depth))
        found.sort(key=lambda d: (-d.depth, d.plugin))

    def fail_next(self, times: int = 1) -> None:
        self._failures += times

    async def dependents(
        self, tenant_id: str, going: InstalledPlugin, installed: Sequence[InstalledPlugin]
    ) -> FoundDependents:
        self.asked.append((tenant_id, going, tuple(installed)))
        if tenant_id in self.down:
            raise DependencyGraphUnavailableError("list dependents", "UNAVAILABLE: test outage")
        if self._failures:
            self._failures -= 1
            raise DependencyGraphUnavailableError("list dependents", "UNAVAILABLE: test outage")
        running = {(p.plugin, p.version) for p in installed}
        return FoundDependents(
            tuple(
                d
                for d in self._dependents.get((going.plugin, going.version), [])
                if (d.plugin, d.version) in running
            )
        )
