"""In-memory advisories: tests declare which plugin versions have a critical advisory."""

from __future__ import annotations

from portico_rollout.errors import AdvisoriesUnavailableError


class MemoryAdvisories:
    """AdvisorySource answering from `declare`; `asked` records every question."""

    def __init__(self) -> None:
        self._critical: dict[tuple[str, str, str], tuple[str, ...]] = {}
        self.asked: list[tuple[str, str, str]] = []
        # Tenants whose questions fail, as if security could not be reached for them.
        self.down: set[str] = set()

    def declare(self, tenant_id: str, plugin: str, version: str, *advisory_ids: str) -> None:
        """From now on the version has these critical advisories (none: it is clean again)."""
        self._critical[tenant_id, plugin, version] = tuple(sorted(advisory_ids))

    async def critical(self, tenant_id: str, plugin: str, version: str) -> tuple[str, ...]:
        self.asked.append((tenant_id, plugin, version))
        if tenant_id in self.down:
            raise AdvisoriesUnavailableError(f"{plugin}@{version}", "UNAVAILABLE: test outage")
        return self._critical.get((tenant_id, plugin, version), ())
