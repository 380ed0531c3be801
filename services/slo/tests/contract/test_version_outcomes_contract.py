"""The version-outcome tallies behave alike in memory and in PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING

from portico_common.tenants import ALL_TENANTS
from portico_slo.domain.version_outcomes import Tally

if TYPE_CHECKING:
    # conftest is not importable at run time under --import-mode=importlib.
    from conftest import Backend


async def _add(backend: Backend, tenant: str, version: str, seconds: dict[int, Tally]) -> None:
    async with backend.uow(tenant) as tx:
        await tx.version_outcomes.add(tenant, "@acme/p", version, seconds)


async def test_tallies_add_up_per_second_and_read_back_in_range(backend: Backend) -> None:
    """Two reports into one second sum, histogram included; the range is [start, end)."""
    a, b = Tally.of(True, 50), Tally.of(False, 700)
    await _add(backend, "acme", "1.0.0", {100: a, 101: a})
    await _add(backend, "acme", "1.0.0", {100: b, 102: b})
    async with backend.uow("acme") as tx:
        found = await tx.version_outcomes.read("acme", "@acme/p", ["1.0.0", "2.0.0"], 100, 102)
    assert found == {"1.0.0": {100: a + b, 101: a}, "2.0.0": {}}


async def test_a_tenant_reads_only_its_own_tallies(backend: Backend) -> None:
    """Another tenant's outcomes of the same plugin version are invisible."""
    await _add(backend, "acme", "1.0.0", {100: Tally.of(True, 5)})
    await _add(backend, "globex", "1.0.0", {100: Tally.of(False, 5)})
    async with backend.uow("globex") as tx:
        found = await tx.version_outcomes.read("acme", "@acme/p", ["1.0.0"], 0, 1000)
    assert found.get("1.0.0", {}) == {}


async def test_prune_deletes_seconds_before_the_cut(backend: Backend) -> None:
    """Seconds before `before` go, the rest stay."""
    await _add(backend, "acme", "1.0.0", {100: Tally.of(True, 5), 200: Tally.of(True, 5)})
    async with backend.uow(ALL_TENANTS) as tx:
        assert await tx.version_outcomes.prune(150) == 1
    async with backend.uow("acme") as tx:
        found = await tx.version_outcomes.read("acme", "@acme/p", ["1.0.0"], 0, 1000)
    assert list(found["1.0.0"]) == [200]
