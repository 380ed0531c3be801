"""The report use cases on in-memory adapters: catalogs, manifests, policies, the streamed check."""

from __future__ import annotations

import pytest

from portico.events.v1 import events_pb2
from portico_common.clock import ManualClock
from portico_common.tenants import InvalidTenantIdError
from portico_compat.adapters.memory import CompatMemoryStore, committed_projection
from portico_compat.app import handlers
from portico_compat.app.ports import UnitOfWorkFactory
from portico_compat.domain.apis import ApiProvision, ApiRequirement, HostApi, HostApiCatalog
from portico_compat.domain.checks import CompatCheck
from portico_compat.domain.compatibility import DimensionReport
from portico_compat.domain.permissions import Decision, PermissionPolicy, PermissionRule
from portico_compat.domain.plugins import PluginRequirements
from portico_compat.domain.releases import ReleaseManifest
from portico_compat.domain.report import ReportDimension, Verdict
from portico_compat.domain.resources import Quota, Resources, Usage
from portico_compat.errors import UnknownHostProfileError

TENANT = "acme"
PLUGIN = "@acme/plugin-cost-insights"
RELEASE = "1.31.0"


def plugin(version: str = "2.3.0", **changes: object) -> PluginRequirements:
    values: dict[str, object] = {
        "peer_dependencies": {"@backstage/core-plugin-api": "^1.9.0"},
        "consumes": (ApiRequirement("core.discovery", "^1.0.0"),),
        "provides": (ApiProvision("cost.insights", "1.0.0"),),
        "permissions": ("catalog.entity.read",),
    }
    values.update(changes)
    return PluginRequirements(PLUGIN, version, **values)  # type: ignore[arg-type]


@pytest.fixture
async def acme_state(uow: UnitOfWorkFactory, acme_host: None) -> None:
    """acme's catalog, release manifest and policy for its Backstage 1.31.0 host."""
    await handlers.set_host_api_catalog(
        uow, HostApiCatalog.of(TENANT, RELEASE, [HostApi("core.discovery", "1.4.0")])
    )
    await handlers.set_release_manifest(
        uow, ReleaseManifest(TENANT, RELEASE, {"@backstage/core-plugin-api": "1.10.0"})
    )
    await handlers.set_permission_policy(
        uow,
        PermissionPolicy(TENANT, (PermissionRule("catalog.*", Decision.ALLOW),), Decision.DENY),
    )


def checked(store: CompatMemoryStore) -> list[events_pb2.CompatChecked]:
    return [e for e, _ in store.sink.events if isinstance(e, events_pb2.CompatChecked)]


async def test_catalog_manifest_and_policy_are_stored_per_tenant(
    uow: UnitOfWorkFactory, store: CompatMemoryStore, acme_state: None
) -> None:
    """Each Set* stores under the tenant (and release); another tenant sees none of it."""
    assert set(store.state.api_catalogs) == {(TENANT, RELEASE)}
    assert set(store.state.release_manifests) == {(TENANT, RELEASE)}
    assert set(store.state.permission_policies) == {TENANT}
    async with uow("globex") as tx:
        assert await tx.api_catalogs.get(TENANT, RELEASE) is None
        assert await tx.release_manifests.get(TENANT, RELEASE) is None
        assert await tx.permission_policies.get(TENANT) is None


async def test_setting_again_replaces(uow: UnitOfWorkFactory, store: CompatMemoryStore) -> None:
    """A second catalog for the same release replaces the first."""
    await handlers.set_host_api_catalog(
        uow, HostApiCatalog.of(TENANT, RELEASE, [HostApi("a", "1.0.0")])
    )
    await handlers.set_host_api_catalog(
        uow, HostApiCatalog.of(TENANT, RELEASE, [HostApi("b", "1.0.0")])
    )

    assert list(store.state.api_catalogs[TENANT, RELEASE].apis) == ["b"]


async def test_set_with_a_wildcard_tenant_is_refused(
    uow: UnitOfWorkFactory, store: CompatMemoryStore
) -> None:
    """The platform scope '*' is never a tenant a request may write."""
    with pytest.raises(InvalidTenantIdError):
        await handlers.set_permission_policy(uow, PermissionPolicy("*"))
    assert store.state.permission_policies == {}


@pytest.mark.usefixtures("acme_state")
async def test_stream_yields_each_dimension_then_the_recorded_check(
    uow: UnitOfWorkFactory, store: CompatMemoryStore
) -> None:
    """Each dimension arrives in order, then the check, recorded and emitted."""
    items = [item async for item in handlers.stream_check(uow, TENANT, plugin())]

    *dimensions, check = items
    assert all(isinstance(d, DimensionReport) for d in dimensions)
    assert [d.dimension for d in dimensions] == [  # type: ignore[union-attr]
        ReportDimension.API,
        ReportDimension.RUNTIME,
        ReportDimension.PERMISSIONS,
        ReportDimension.RESOURCES,
    ]
    assert isinstance(check, CompatCheck)
    assert check.report.dimensions == tuple(dimensions)
    assert check.compatible
    assert store.state.checks[check.check_id] == check
    (event,) = checked(store)
    assert [(d.dimension, d.verdict) for d in event.dimensions] == [
        ("api", "pass"),
        ("runtime", "pass"),
        ("permissions", "pass"),
        ("resources", "pass"),
    ]
    assert event.compatible
    assert not event.approval_required


@pytest.mark.usefixtures("acme_state")
async def test_a_stream_abandoned_midway_records_nothing(
    uow: UnitOfWorkFactory, store: CompatMemoryStore
) -> None:
    """A caller that stops reading before the report leaves no check and no event."""
    stream = handlers.stream_check(uow, TENANT, plugin())
    first = await anext(stream)
    await stream.aclose()

    assert isinstance(first, DimensionReport)
    assert store.state.checks == {}
    assert checked(store) == []


@pytest.mark.usefixtures("acme_state")
async def test_unary_check_equals_the_streams_final_report(
    uow: UnitOfWorkFactory, store: CompatMemoryStore
) -> None:
    """check_compatibility answers the check the stream would have ended with."""
    check = await handlers.check_compatibility(uow, TENANT, plugin())

    assert [d.verdict for d in check.report.dimensions] == [Verdict.PASS] * 4
    assert list(store.state.checks) == [check.check_id]


@pytest.mark.usefixtures("acme_state")
async def test_upgrade_compares_with_the_latest_check_of_the_installed_version(
    uow: UnitOfWorkFactory, store: CompatMemoryStore, clock: ManualClock
) -> None:
    """New permissions relative to the installed version's last check are escalations."""
    await handlers.check_compatibility(uow, TENANT, plugin("2.2.0", permissions=()))
    clock.advance(60)
    await handlers.check_compatibility(
        uow, TENANT, plugin("2.2.0", permissions=("catalog.entity.read",))
    )
    clock.advance(60)

    upgrade = plugin(
        permissions=("catalog.entity.read", "catalog.location.create"),
        installed_version="2.2.0",
    )
    check = await handlers.check_compatibility(uow, TENANT, upgrade)

    permissions = check.report.dimensions[2]
    assert [(f.name, f.outcome) for f in permissions.findings] == [
        ("catalog.entity.read", Verdict.PASS),
        ("catalog.location.create", Verdict.NEEDS_APPROVAL),
    ]
    assert not check.compatible
    assert checked(store)[-1].approval_required


@pytest.mark.usefixtures("acme_state")
async def test_upgrade_drop_of_a_provided_api_is_reported(
    uow: UnitOfWorkFactory, store: CompatMemoryStore
) -> None:
    """An API the installed version provided and the new one drops is a breaking change."""
    await handlers.check_compatibility(uow, TENANT, plugin("2.2.0"))

    check = await handlers.check_compatibility(
        uow, TENANT, plugin(provides=(), installed_version="2.2.0")
    )

    api = check.report.dimensions[0]
    assert api.verdict is Verdict.WARN
    assert "the new version drops it" in api.findings[-1].reason


async def test_stream_without_host_profile_fails_before_any_dimension(
    uow: UnitOfWorkFactory, store: CompatMemoryStore
) -> None:
    """No profile is FAILED_PRECONDITION at the first read; nothing is yielded or recorded."""
    stream = handlers.stream_check(uow, TENANT, plugin())
    with pytest.raises(UnknownHostProfileError):
        await anext(stream)
    assert store.state.checks == {}


@pytest.mark.usefixtures("acme_host")
async def test_a_host_without_catalog_policy_or_manifest_fails_safe(
    uow: UnitOfWorkFactory,
) -> None:
    """Consumed APIs fail, @backstage/* alignment warns, permissions need approval,
    declared resources fail for want of a quota."""
    check = await handlers.check_compatibility(
        uow, TENANT, plugin(resources=Resources(100, 128, 0))
    )

    assert [(d.dimension, d.verdict) for d in check.report.dimensions] == [
        (ReportDimension.API, Verdict.FAIL),
        (ReportDimension.RUNTIME, Verdict.WARN),
        (ReportDimension.PERMISSIONS, Verdict.NEEDS_APPROVAL),
        (ReportDimension.RESOURCES, Verdict.FAIL),
    ]
    assert not check.compatible


@pytest.mark.usefixtures("acme_state")
async def test_resources_are_read_from_the_tenancy_projection(
    uow: UnitOfWorkFactory, store: CompatMemoryStore, clock: ManualClock
) -> None:
    """The check reads the tenant's projected quota and usage in its first transaction."""
    projection = committed_projection(store, TENANT)
    await projection.apply_quota(TENANT, Quota(Resources(4000, 8192, 0), 5, 1), clock.now())
    await projection.apply_usage(TENANT, Usage(Resources(1000, 1024, 0), 2, 1), clock.now())

    fits = await handlers.check_compatibility(uow, TENANT, plugin(resources=Resources(500, 0, 0)))
    too_big = await handlers.check_compatibility(
        uow, TENANT, plugin(resources=Resources(3500, 0, 0))
    )

    assert fits.report.dimensions[3].verdict is Verdict.PASS
    assert too_big.report.dimensions[3].verdict is Verdict.FAIL
    assert not too_big.compatible
