"""Use cases of dependency solving: solve a tenant's host, predict an upgrade's impact.

Solving is CPU-bound and synchronous (resolvelib), so it runs in a worker
thread, at most `max_concurrent` at a time, with the server's budget as a
ceiling on whatever a caller asks for. The budget is measured with a
monotonic timer, not the business Clock: it bounds work, not a schedule.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

from portico_common.npm import package_name_problem
from portico_common.tenants import require_tenant_id
from portico_compat.app.ports import UnitOfWorkFactory
from portico_compat.domain.solver import (
    Budget,
    PackageCatalog,
    SolveOutcome,
    UpgradeImpact,
    predict_upgrade_impact,
    solve,
)
from portico_compat.domain.solver.dependents import Dependents, Installed, dependents_of
from portico_compat.domain.solver.errors import SolverInputError
from portico_compat.domain.solver.model import DEFAULT_SINGLETON_PREFIXES

# What a tenant's host runs now, name -> exact version.
InstalledSource = Callable[[str], Awaitable[Mapping[str, str]]]


def installed_from_host_profiles(uow: UnitOfWorkFactory) -> InstalledSource:
    """The packages recorded with SetHostProfile are what the tenant has installed."""

    async def installed_of(tenant_id: str) -> Mapping[str, str]:
        async with uow(tenant_id) as tx:
            profile = await tx.host_profiles.get(tenant_id)
        return dict(profile.packages) if profile is not None else {}

    return installed_of


class DependencySolver:
    def __init__(
        self,
        catalog: PackageCatalog,
        *,
        budget: Budget | None = None,
        max_concurrent: int = 2,
        singleton_prefixes: tuple[str, ...] = DEFAULT_SINGLETON_PREFIXES,
        timer: Callable[[], float] = time.perf_counter,
        installed_of: InstalledSource | None = None,
    ) -> None:
        self._catalog = catalog
        self._installed_of = installed_of
        self._budget = budget or Budget()
        self._slots = asyncio.Semaphore(max_concurrent)
        self._singletons = singleton_prefixes
        self._timer = timer

    def budget_for(self, max_rounds: int = 0, max_millis: int = 0) -> Budget:
        """The caller's budget (0 = default), never above the server's."""
        rounds = min(max_rounds or self._budget.max_rounds, self._budget.max_rounds)
        seconds = min(
            max_millis / 1000 if max_millis else self._budget.max_seconds, self._budget.max_seconds
        )
        return Budget(max_rounds=rounds, max_seconds=seconds)

    async def solve_dependencies(
        self,
        tenant_id: str,
        installed: Sequence[tuple[str, str]],
        requested: Sequence[tuple[str, str]],
        *,
        allow_upgrades: bool,
        budget: Budget,
    ) -> SolveOutcome:
        require_tenant_id(tenant_id)
        installed_map = await self._installed(tenant_id, installed)
        requested_map = _unique("requested", requested)
        if not requested_map and not installed_map:
            raise SolverInputError("nothing to solve: no installed and no requested packages")
        async with self._slots:
            return await asyncio.to_thread(
                solve,
                self._catalog,
                installed=installed_map,
                requested=requested_map,
                allow_upgrades=allow_upgrades,
                budget=budget,
                now=self._timer,
                singleton_prefixes=self._singletons,
            )

    async def _installed(
        self, tenant_id: str, given: Sequence[tuple[str, str]]
    ) -> Mapping[str, str]:
        """The request's installed list, or (when it gives none) the tenant's recorded one."""
        return await _stored_or_given(self._installed_of, tenant_id, given)

    async def predict_upgrade_impact(
        self,
        tenant_id: str,
        installed: Sequence[tuple[str, str]],
        plugin: str,
        target_range: str,
        *,
        budget: Budget,
    ) -> UpgradeImpact:
        require_tenant_id(tenant_id)
        if not plugin:
            raise SolverInputError("plugin is required")
        problem = package_name_problem(plugin)
        if problem is not None:
            raise SolverInputError(f"invalid plugin: {problem}")
        if not target_range:
            raise SolverInputError("target_range is required")
        installed_map = await self._installed(tenant_id, installed)
        async with self._slots:
            return await asyncio.to_thread(
                predict_upgrade_impact,
                self._catalog,
                installed=installed_map,
                plugin=plugin,
                target_range=target_range,
                budget=budget,
                now=self._timer,
                singleton_prefixes=self._singletons,
            )

    async def list_dependents(
        self,
        tenant_id: str,
        installed: Sequence[Installed],
        going: Installed,
    ) -> Dependents:
        """The installed plugins that need `going` at its version, in rollback order."""
        require_tenant_id(tenant_id)
        problem = package_name_problem(going.name) if going.name else "plugin is required"
        if problem is not None:
            raise SolverInputError(f"invalid plugin: {problem}")
        if not going.version:
            raise SolverInputError("version is required")
        if installed:
            _unique("installed", [(p.name, p.version) for p in installed])
            given = {p.name: p for p in installed}
        else:
            stored = await _stored_or_given(self._installed_of, tenant_id, ())
            given = {name: Installed(name, version) for name, version in stored.items()}
        async with self._slots:
            # Catalog look-ups may block (an npm registry), so off the event loop.
            return await asyncio.to_thread(dependents_of, self._catalog, given, going)


async def _stored_or_given(
    installed_of: InstalledSource | None, tenant_id: str, given: Sequence[tuple[str, str]]
) -> Mapping[str, str]:
    if given or installed_of is None:
        return _unique("installed", given)
    return await installed_of(tenant_id)


def _unique(what: str, pairs: Sequence[tuple[str, str]]) -> Mapping[str, str]:
    found: dict[str, str] = {}
    for name, value in pairs:
        if name in found:
            raise SolverInputError(f"{what} names {name!r} twice")
        found[name] = value
    return found
