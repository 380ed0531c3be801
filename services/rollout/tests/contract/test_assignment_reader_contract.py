"""What every AssignmentReader must read back, checked on the in-memory and the Pg adapter."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from portico_common.clock import ManualClock
from portico_common.db import Database
from portico_embedded.testing.databases import CONTRACT_BACKENDS, contract_backend
from portico_rollout.adapters.memory import MemoryStore
from portico_rollout.adapters.postgres import pg_uow_factory
from portico_rollout.adapters.view_memory import MemoryAssignmentReader
from portico_rollout.adapters.view_postgres import PgAssignmentReader
from portico_rollout.app.assignments import AssignmentReader
from portico_rollout.app.ports import UnitOfWorkFactory
from portico_rollout.domain.assignment import Assignment
from portico_rollout.domain.rollout import Rollout
from portico_rollout.domain.state import RolloutState
from portico_rollout.testing.world import T0

CANARY = "@acme/plugin-canary"
STABLE = "@acme/plugin-stable"
AWAITING = "@acme/plugin-awaiting"
GONE = "@acme/plugin-rolled-back"


@dataclass
class Readers:
    """Where rows are written, and the reader under test over the same rows."""

    uow: UnitOfWorkFactory
    reader: AssignmentReader


@pytest.fixture
def pg_readers(rollout_db: Database, clock: ManualClock) -> Readers:
    return Readers(pg_uow_factory(rollout_db, clock), PgAssignmentReader(rollout_db))


def memory_readers(clock: ManualClock) -> Readers:
    store = MemoryStore(clock)
    return Readers(store.uow_factory(), MemoryAssignmentReader(store))


@pytest.fixture(params=CONTRACT_BACKENDS)
def readers(request: pytest.FixtureRequest, clock: ManualClock) -> Readers:
    """Each contract test runs once per adapter."""
    return contract_backend(request, memory=lambda: memory_readers(clock), postgres="pg_readers")


def rollout(rollout_id: str, tenant: str, plugin: str, *, stable: str = "") -> Rollout:
    return Rollout.request(
        rollout_id=rollout_id,
        tenant_id=tenant,
        plugin=plugin,
        version="2.0.0",
        stable_version=stable,
        bake_seconds=600,
        now=T0,
    )


async def seed(readers: Readers) -> None:
    """acme: a canary over 1.0.0, a stable-only plugin, one awaiting checks, one rolled back."""
    canary = rollout("ro-canary", "acme", CANARY, stable="1.0.0")
    canary.record_security_verdict(True, [], T0)
    canary.record_compat_verdict(True, [], T0)
    gone = rollout("ro-gone", "acme", GONE)
    gone.record_security_verdict(True, [], T0)
    gone.record_compat_verdict(True, [], T0)
    gone.roll_back("bad", T0)
    async with readers.uow("acme") as tx:
        await tx.stable_versions.set("acme", CANARY, "1.0.0", "ro-old", T0)
        await tx.stable_versions.set("acme", STABLE, "3.1.0", "ro-older", T0)
        for each in (canary, rollout("ro-awaiting", "acme", AWAITING), gone):
            assert await tx.rollouts.add(each)
    async with readers.uow("globex") as tx:
        await tx.stable_versions.set("globex", STABLE, "3.0.0", "ro-g", T0)


async def test_all_reads_every_tenants_installed_plugins(readers: Readers) -> None:
    """Stable versions and unfinished rollouts of every tenant; a finished one alone is not read."""
    await seed(readers)
    found = {a.key: a for a in await readers.reader.all()}
    assert set(found) == {
        ("acme", CANARY),
        ("acme", STABLE),
        ("acme", AWAITING),
        ("globex", STABLE),
    }
    canary = found["acme", CANARY]
    assert (canary.stable_version, canary.canary_version, canary.percent, canary.state) == (
        "1.0.0",
        "2.0.0",
        10,
        RolloutState.IN_PROGRESS,
    )
    assert found["acme", STABLE] == Assignment("acme", STABLE, stable_version="3.1.0")
    assert found["globex", STABLE] == Assignment("globex", STABLE, stable_version="3.0.0")
    awaiting = found["acme", AWAITING]
    assert (awaiting.rollout_id, awaiting.percent, awaiting.stable_version) == (
        "ro-awaiting",
        0,
        "",
    )


async def test_of_reads_the_named_plugins_and_leaves_out_the_rest(readers: Readers) -> None:
    """Named plugins of any tenant are read; one with nothing installed is left out."""
    await seed(readers)
    found = await readers.reader.of(
        [("acme", CANARY), ("globex", STABLE), ("acme", GONE), ("initech", STABLE)]
    )
    assert sorted(a.key for a in found) == [("acme", CANARY), ("globex", STABLE)]
    assert await readers.reader.of([]) == []


async def test_an_empty_database_reads_as_nothing(readers: Readers) -> None:
    """No rows: no assignments (every plugin resolves to "")."""
    assert await readers.reader.all() == []
