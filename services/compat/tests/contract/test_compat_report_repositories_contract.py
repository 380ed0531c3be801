"""The report's repositories (catalogs, manifests, policies, latest check) on both adapters."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import asyncpg
import pytest

from portico_common.memory_uow import RowLevelSecurityError
from portico_compat.domain.apis import ApiProvision, ApiRequirement, HostApi, HostApiCatalog
from portico_compat.domain.checks import CompatCheck, record
from portico_compat.domain.compatibility import Dimension, DimensionReport, Finding
from portico_compat.domain.permissions import Decision, PermissionPolicy, PermissionRule
from portico_compat.domain.plugins import PluginRequirements
from portico_compat.domain.releases import ReleaseManifest
from portico_compat.domain.report import ReportDimension, Verdict
from portico_compat.domain.resources import Resources

if TYPE_CHECKING:
    from .conftest import Backend

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RLS_REFUSAL = (RowLevelSecurityError, asyncpg.InsufficientPrivilegeError)
RELEASE = "1.31.0"
CATALOG = HostApiCatalog.of(
    "acme",
    RELEASE,
    [
        HostApi("core.discovery", "1.4.0"),
        HostApi("core.identity", "1.2.0", "since 1.30", removed=False, replacement="auth.id"),
        HostApi("legacy.router", "0.9.0", removed=True),
    ],
)
MANIFEST = ReleaseManifest("acme", RELEASE, {"@backstage/core-plugin-api": "1.10.0"})
POLICY = PermissionPolicy(
    "acme",
    (PermissionRule("catalog.*", Decision.ALLOW), PermissionRule("kube.exec", Decision.DENY)),
    Decision.NEEDS_APPROVAL,
)


class RollbackError(Exception):
    """Raised inside a unit of work to make it roll back."""


def a_check(version: str, at: datetime, tenant: str = "acme") -> CompatCheck:
    plugin = PluginRequirements(
        "@acme/plugin-cost-insights",
        version,
        consumes=(ApiRequirement("core.discovery", "^1.0.0"),),
        provides=(ApiProvision("cost.insights", "1.0.0"),),
        permissions=("catalog.entity.read",),
        resources=Resources(250, 256, 0),
    )
    finding = Finding(
        Dimension.API, "core.identity", "*", "1.2.0", True, "deprecated", verdict=Verdict.WARN
    )
    dimensions = (
        DimensionReport(ReportDimension.API, Verdict.WARN, "1 checked: 1 warn", (finding,)),
        DimensionReport(ReportDimension.PERMISSIONS, Verdict.PASS, "no permissions requested"),
    )
    return record(str(uuid.uuid4()), tenant, plugin, dimensions, at)


async def test_catalog_manifest_and_policy_round_trip(backend: Backend) -> None:
    """What is saved reads back equal, per tenant and release."""
    async with backend.uow("acme") as tx:
        await tx.api_catalogs.save(CATALOG, T0)
        await tx.release_manifests.save(MANIFEST, T0)
        await tx.permission_policies.save(POLICY, T0)
    async with backend.uow("acme") as tx:
        assert await tx.api_catalogs.get("acme", RELEASE) == CATALOG
        assert await tx.release_manifests.get("acme", RELEASE) == MANIFEST
        assert await tx.permission_policies.get("acme") == POLICY
        assert await tx.api_catalogs.get("acme", "1.30.0") is None


async def test_every_manifest_of_a_tenant_is_listed_and_only_its_own(backend: Backend) -> None:
    """all_for lists each release the tenant recorded, and none of another tenant's."""
    later = ReleaseManifest("acme", "1.45.0", {"@techdocs/cli": "1.10.0"})
    async with backend.uow("acme") as tx:
        await tx.release_manifests.save(MANIFEST, T0)
        await tx.release_manifests.save(later, T0)
    async with backend.uow("globex") as tx:
        await tx.release_manifests.save(ReleaseManifest("globex", "1.40.0", {"a": "1.0.0"}), T0)
    async with backend.uow("acme") as tx:
        listed = await tx.release_manifests.all_for("acme")
        hidden = await tx.release_manifests.all_for("globex")

    assert sorted(listed, key=lambda m: m.backstage_release) == [MANIFEST, later]
    assert hidden == []


async def test_saving_again_replaces(backend: Backend) -> None:
    """A second save for the same key replaces the first."""
    newer = PermissionPolicy("acme", (), Decision.DENY)
    async with backend.uow("acme") as tx:
        await tx.permission_policies.save(POLICY, T0)
    async with backend.uow("acme") as tx:
        await tx.permission_policies.save(newer, T0)
    async with backend.uow("acme") as tx:
        assert await tx.permission_policies.get("acme") == newer


async def test_other_tenants_rows_are_invisible_and_unwritable(backend: Backend) -> None:
    """globex sees none of acme's rows and cannot write one for acme."""
    async with backend.uow("acme") as tx:
        await tx.api_catalogs.save(CATALOG, T0)
    async with backend.uow("globex") as tx:
        assert await tx.api_catalogs.get("acme", RELEASE) is None

    async def write_for_acme() -> None:
        async with backend.uow("globex") as tx:
            await tx.release_manifests.save(MANIFEST, T0)

    with pytest.raises(RLS_REFUSAL):
        await write_for_acme()


async def test_a_rolled_back_save_leaves_nothing(backend: Backend) -> None:
    """A unit of work that raises keeps none of its writes."""

    async def write_then_fail() -> None:
        async with backend.uow("acme") as tx:
            await tx.release_manifests.save(MANIFEST, T0)
            raise RollbackError

    with pytest.raises(RollbackError):
        await write_then_fail()
    async with backend.uow("acme") as tx:
        assert await tx.release_manifests.get("acme", RELEASE) is None


async def test_a_check_round_trips_with_its_dimensions_and_declarations(backend: Backend) -> None:
    """Dimensions, verdicts and what the version declared read back equal."""
    check = a_check("2.2.0", T0)
    async with backend.uow("acme") as tx:
        await tx.checks.add(check)
    async with backend.uow("acme") as tx:
        assert await tx.checks.get(check.check_id) == check


async def test_latest_is_the_most_recent_check_of_that_version(backend: Backend) -> None:
    """latest() picks the newest check of plugin@version in the tenant, nothing else."""
    old = a_check("2.2.0", T0)
    new = a_check("2.2.0", T0 + timedelta(minutes=5))
    other_version = a_check("2.3.0", T0 + timedelta(minutes=9))
    async with backend.uow("acme") as tx:
        for check in (new, old, other_version):
            await tx.checks.add(check)
    async with backend.uow("globex") as tx:
        await tx.checks.add(a_check("2.2.0", T0 + timedelta(hours=1), tenant="globex"))

    async with backend.uow("acme") as tx:
        latest = await tx.checks.latest("@acme/plugin-cost-insights", "2.2.0")
        missing = await tx.checks.latest("@acme/plugin-cost-insights", "9.9.9")
    assert latest == new
    assert missing is None
