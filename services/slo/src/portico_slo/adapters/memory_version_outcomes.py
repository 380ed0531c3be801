"""In-memory tallies of outcomes per version and second (the fake of VersionOutcomeTallies)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from portico_slo.domain.version_outcomes import Tally

if TYPE_CHECKING:
    from portico_slo.adapters.memory import MemoryUnitOfWork

# (tenant_id, plugin, version) -> epoch second -> tally
VersionTallies = dict[tuple[str, str, str], dict[int, Tally]]


class MemoryVersionOutcomes:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow
        self._tallies = uow.state.version_outcomes

    async def add(
        self, tenant_id: str, plugin: str, version: str, seconds: Mapping[int, Tally]
    ) -> None:
        self._uow.check_write(tenant_id)
        kept = self._tallies.setdefault((tenant_id, plugin, version), {})
        for second, counted in seconds.items():
            kept[second] = kept.get(second, Tally()) + counted

    async def read(
        self, tenant_id: str, plugin: str, versions: Sequence[str], start: int, end: int
    ) -> dict[str, dict[int, Tally]]:
        if not self._uow.sees(tenant_id):
            return {}
        found: dict[str, dict[int, Tally]] = {}
        for version in versions:
            seconds = self._tallies.get((tenant_id, plugin, version), {})
            found[version] = {k: v for k, v in seconds.items() if start <= k < end}
        return found

    async def prune(self, before: int) -> int:
        deleted = 0
        for (tenant_id, _, _), seconds in self._tallies.items():
            if not self._uow.sees(tenant_id):
                continue
            old = [k for k in seconds if k < before]
            for k in old:
                del seconds[k]
            deleted += len(old)
        return deleted
