"""What the app layer relies on from any unit of work, held by both adapters alike."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import asyncpg
import pytest

from portico_common.memory_uow import RowLevelSecurityError
from portico_compat.domain.checks import CompatCheck
from portico_compat.domain.compatibility import (
    CompatReport,
    Dimension,
    Finding,
    HostProfile,
)
from portico_compat.domain.events import CompatChecked

if TYPE_CHECKING:
    from .conftest import Backend

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RLS_REFUSAL = (RowLevelSecurityError, asyncpg.InsufficientPrivilegeError)
ACME = HostProfile(
    "acme",
    "1.31.0",
    "v21.0.0-nightly20230429c968361829",
    {"@backstage/core-plugin-api": "1.10.0", "react": "19.0.0-rc.1"},
)


class RollbackError(Exception):
    """Raised inside a unit of work to make it roll back."""


def a_check(tenant: str = "acme") -> CompatCheck:
    findings = (
        Finding(Dimension.RUNTIME, "node", ">=18", "20.11.1", True, "20.11.1 satisfies '>=18'"),
        Finding(Dimension.PEER, "react", "^19.0.0", "", False, "not installed on the host"),
    )
    return CompatCheck(
        str(uuid.uuid4()),
        tenant,
        "@acme/plugin-cost-insights",
        "2.3.0-rc.1",
        CompatReport(compatible=False, findings=findings),
        T0,
    )


async def test_profile_round_trips(backend: Backend) -> None:
    """A saved profile reads back equal: scoped names and prerelease versions intact."""
    async with backend.uow("acme") as tx:
        await tx.host_profiles.save(ACME, T0)
    async with backend.uow("acme") as tx:
        assert await tx.host_profiles.get("acme") == ACME


async def test_save_replaces_the_tenants_profile(backend: Backend) -> None:
    """Saving again replaces every field, packages as a whole."""
    newer = HostProfile("acme", "1.32.0", "22.2.0", {"vue": "3.4.0"})
    async with backend.uow("acme") as tx:
        await tx.host_profiles.save(ACME, T0)
    async with backend.uow("acme") as tx:
        await tx.host_profiles.save(newer, T0)
    async with backend.uow("acme") as tx:
        assert await tx.host_profiles.get("acme") == newer


async def test_missing_profile_is_none(backend: Backend) -> None:
    """A tenant without a profile gets None, not an error."""
    async with backend.uow("acme") as tx:
        assert await tx.host_profiles.get("acme") is None


async def test_another_tenants_profile_is_invisible(backend: Backend) -> None:
    """Inside globex's unit of work acme's profile does not exist, even when asked by id."""
    async with backend.uow("acme") as tx:
        await tx.host_profiles.save(ACME, T0)
    async with backend.uow("globex") as tx:
        assert await tx.host_profiles.get("acme") is None


async def test_another_tenants_profile_cannot_be_written(backend: Backend) -> None:
    """globex's unit of work cannot save a profile of acme's: the write is refused."""
    with pytest.raises(RLS_REFUSAL):
        async with backend.uow("globex") as tx:
            await tx.host_profiles.save(ACME, T0)
    async with backend.uow("acme") as tx:
        assert await tx.host_profiles.get("acme") is None


async def test_check_round_trips(backend: Backend) -> None:
    """A stored check reads back equal: verdict, findings in order, time."""
    check = a_check()
    async with backend.uow("acme") as tx:
        await tx.checks.add(check)
    async with backend.uow("acme") as tx:
        assert await tx.checks.get(check.check_id) == check


async def test_another_tenants_check_is_invisible(backend: Backend) -> None:
    """globex cannot read acme's check by its id, nor store a check in acme's name."""
    check = a_check()
    async with backend.uow("acme") as tx:
        await tx.checks.add(check)
    async with backend.uow("globex") as tx:
        assert await tx.checks.get(check.check_id) is None
    with pytest.raises(RLS_REFUSAL):
        async with backend.uow("globex") as tx:
            await tx.checks.add(a_check("acme"))


async def test_failed_unit_of_work_leaves_nothing(backend: Backend) -> None:
    """An exception inside the block discards its writes and its events."""
    check = a_check()

    async def write_then_fail() -> None:
        async with backend.uow("acme") as tx:
            await tx.host_profiles.save(ACME, T0)
            await tx.checks.add(check)
            await tx.publish([CompatChecked.of(check)])
            raise RollbackError

    with pytest.raises(RollbackError):
        await write_then_fail()
    async with backend.uow("acme") as tx:
        assert await tx.host_profiles.get("acme") is None
        assert await tx.checks.get(check.check_id) is None
    assert await backend.committed_events() == []


async def test_events_commit_with_the_unit_of_work(backend: Backend) -> None:
    """An event emitted in a unit of work that completes is committed with it."""
    check = a_check()
    async with backend.uow("acme") as tx:
        await tx.checks.add(check)
        await tx.publish([CompatChecked.of(check)])
    assert await backend.committed_events() == ["plugin.compat.checked"]
