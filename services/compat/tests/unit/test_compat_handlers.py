"""The compat use cases on in-memory adapters: what is stored and what is emitted."""

from __future__ import annotations

import uuid

import pytest

from portico.events.v1 import events_pb2
from portico_common.clock import ManualClock
from portico_common.tenants import InvalidTenantIdError
from portico_compat.adapters.memory import CompatMemoryStore
from portico_compat.app import handlers
from portico_compat.app.ports import UnitOfWorkFactory
from portico_compat.domain.compatibility import HostProfile
from portico_compat.domain.plugins import PluginRequirements
from portico_compat.errors import (
    InvalidHostProfileError,
    UnknownHostProfileError,
)

TENANT = "acme"
PLUGIN = "@acme/plugin-cost-insights"


def plugin(
    engines: dict[str, str] | None = None, peers: dict[str, str] | None = None
) -> PluginRequirements:
    return PluginRequirements(PLUGIN, "2.3.0", engines or {}, peers or {})


def emitted(store: CompatMemoryStore) -> list[events_pb2.CompatChecked]:
    return [e for e, _ in store.sink.events if isinstance(e, events_pb2.CompatChecked)]


def only_event(store: CompatMemoryStore) -> events_pb2.CompatChecked:
    (event,) = emitted(store)
    return event


def findings(event: events_pb2.CompatChecked) -> list[tuple[str, str, str, str, bool, str]]:
    return [
        (f.dimension, f.name, f.required_range, f.host_version, f.satisfied, f.reason)
        for f in event.findings
    ]


async def check(uow: UnitOfWorkFactory, requirements: PluginRequirements) -> bool:
    result = await handlers.check_compatibility(uow, TENANT, requirements)
    return result.compatible


# --- set_host_profile ---------------------------------------------------------------------


async def test_host_profile_is_stored_with_the_clock_time(
    uow: UnitOfWorkFactory, store: CompatMemoryStore, clock: ManualClock
) -> None:
    """SetHostProfile stores the validated profile for the tenant, stamped with the clock."""
    profile = await handlers.set_host_profile(uow, TENANT, "1.31.0", "20.11.1", {"react": "18.3.1"})
    assert profile == HostProfile(TENANT, "1.31.0", "20.11.1", {"react": "18.3.1"})
    assert store.state.host_profiles[TENANT] == (profile, clock.now())


async def test_host_profile_is_replaced_not_merged(
    uow: UnitOfWorkFactory, store: CompatMemoryStore
) -> None:
    """A second SetHostProfile replaces the whole profile, dropping packages it no longer lists."""
    await handlers.set_host_profile(uow, TENANT, "1.31.0", "20.11.1", {"react": "18.3.1"})
    await handlers.set_host_profile(uow, TENANT, "1.32.0", "22.1.0", {"vue": "3.4.0"})
    stored, _ = store.state.host_profiles[TENANT]
    assert (stored.backstage_version, stored.node_version) == ("1.32.0", "22.1.0")
    assert dict(stored.packages) == {"vue": "3.4.0"}


@pytest.mark.usefixtures("acme_host")
@pytest.mark.parametrize(
    ("backstage", "node", "packages"),
    [
        ("1.31", "20.11.1", {}),
        ("1.31.0", ">=20", {}),
        ("1.31.0", "20.11.1", {"react": "^18.0.0"}),
        ("1.31.0", "20.11.1", {"": "1.0.0"}),
    ],
)
async def test_invalid_host_profile_changes_nothing(
    uow: UnitOfWorkFactory,
    store: CompatMemoryStore,
    backstage: str,
    node: str,
    packages: dict[str, str],
) -> None:
    """A profile with a non-semver version is INVALID_ARGUMENT and the old profile stays."""
    before = dict(store.state.host_profiles)
    with pytest.raises(InvalidHostProfileError) as caught:
        await handlers.set_host_profile(uow, TENANT, backstage, node, packages)
    assert caught.value.code == "INVALID_ARGUMENT"
    assert store.state.host_profiles == before


@pytest.mark.parametrize("tenant", ["", "*", "Acme", "a", "acme-", "-acme", "ac me"])
async def test_invalid_tenant_is_refused_before_any_transaction(
    store: CompatMemoryStore, tenant: str
) -> None:
    """A tenant id outside tenancy's rule, the platform-wide '*' above all, opens nothing."""

    def no_transaction(tenant_id: str) -> object:
        raise AssertionError(f"a transaction was opened for {tenant_id!r}")

    uow: UnitOfWorkFactory = no_transaction  # type: ignore[assignment]
    with pytest.raises(InvalidTenantIdError):
        await handlers.set_host_profile(uow, tenant, "1.31.0", "20.11.1", {})
    with pytest.raises(InvalidTenantIdError):
        await handlers.check_compatibility(uow, tenant, plugin())
    assert store.state.host_profiles == {}


# --- check_compatibility ------------------------------------------------------------------


@pytest.mark.usefixtures("acme_host")
async def test_compatible_plugin_emits_verdict_true(
    uow: UnitOfWorkFactory, store: CompatMemoryStore
) -> None:
    """A plugin whose engines and peers the host meets emits plugin.compat.checked, compatible."""
    result = await handlers.check_compatibility(
        uow,
        TENANT,
        plugin(
            engines={"node": ">=18", "backstage": "^1.28.0"},
            peers={"@backstage/core-plugin-api": "^1.9.0", "react": "^17.0.0 || ^18.0.0"},
        ),
    )
    assert result.compatible
    event = only_event(store)
    assert (event.tenant_id, event.plugin, event.version) == (TENANT, PLUGIN, "2.3.0")
    assert event.compatible
    assert event.check_id == result.check_id
    assert [(f.name, f.satisfied) for f in event.findings] == [
        ("backstage", True),
        ("node", True),
        ("@backstage/core-plugin-api", True),
        ("react", True),
        # No release manifest is recorded for the host's release: a warning, not a failure.
        ("Backstage 1.31.0 release manifest", True),
    ]
    assert store.sink.events[0][1] == f"{PLUGIN}@2.3.0"


@pytest.mark.usefixtures("acme_host")
async def test_unmet_peer_range_is_an_incompatible_verdict(
    uow: UnitOfWorkFactory, store: CompatMemoryStore
) -> None:
    """A host peer outside the plugin's range gives compatible=false naming both versions."""
    assert not await check(uow, plugin(peers={"react": "^19.0.0"}))
    event = only_event(store)
    assert not event.compatible
    assert findings(event) == [
        ("peer", "react", "^19.0.0", "18.3.1", False, "18.3.1 does not satisfy '^19.0.0'")
    ]


@pytest.mark.usefixtures("acme_host")
async def test_node_too_old_is_an_incompatible_verdict(
    uow: UnitOfWorkFactory, store: CompatMemoryStore
) -> None:
    """engines.node above the host's Node gives a runtime finding against the host's version."""
    assert not await check(uow, plugin(engines={"node": ">=22.0.0"}))
    assert findings(only_event(store)) == [
        ("runtime", "node", ">=22.0.0", "20.11.1", False, "20.11.1 does not satisfy '>=22.0.0'")
    ]


@pytest.mark.usefixtures("acme_host")
async def test_missing_host_package_is_an_incompatible_verdict(
    uow: UnitOfWorkFactory, store: CompatMemoryStore
) -> None:
    """A peer the host does not have is unsatisfied with reason 'not installed on the host'."""
    assert not await check(uow, plugin(peers={"@backstage/plugin-catalog-react": "^1.0.0"}))
    assert findings(only_event(store))[:1] == [
        (
            "peer",
            "@backstage/plugin-catalog-react",
            "^1.0.0",
            "",
            False,
            "not installed on the host",
        )
    ]


@pytest.mark.usefixtures("acme_host")
async def test_invalid_range_is_a_finding_not_an_error(
    uow: UnitOfWorkFactory, store: CompatMemoryStore
) -> None:
    """A range npm cannot read is recorded and emitted as an unsatisfied finding with the reason."""
    assert not await check(uow, plugin(engines={"node": ">=eighteen"}, peers={"react": "^18"}))
    (node, react) = only_event(store).findings
    assert (node.name, node.satisfied) == ("node", False)
    assert node.reason.startswith("invalid range '>=eighteen'")
    assert react.satisfied
    assert len(store.state.checks) == 1


@pytest.mark.usefixtures("acme_host")
async def test_overlong_range_is_a_finding(
    uow: UnitOfWorkFactory, store: CompatMemoryStore
) -> None:
    """A range longer than any real one is an unsatisfied finding, not parsed and not an error."""
    assert not await check(uow, plugin(peers={"react": ">=1.0.0 " * 200}))
    assert only_event(store).findings[0].reason == "invalid range: longer than 1024 characters"


async def test_no_host_profile_fails_and_emits_nothing(
    uow: UnitOfWorkFactory, store: CompatMemoryStore
) -> None:
    """Checking before SetHostProfile is FAILED_PRECONDITION; nothing is stored or emitted."""
    with pytest.raises(UnknownHostProfileError, match="set one with SetHostProfile") as caught:
        await handlers.check_compatibility(uow, TENANT, plugin(engines={"node": ">=18"}))
    assert caught.value.code == "FAILED_PRECONDITION"
    assert store.state.checks == {}
    assert store.sink.events == []


@pytest.mark.usefixtures("acme_host")
async def test_another_tenants_profile_is_not_used(
    uow: UnitOfWorkFactory, store: CompatMemoryStore
) -> None:
    """Tenant globex cannot check against acme's host profile: it has none of its own."""
    with pytest.raises(UnknownHostProfileError, match="'globex'"):
        await handlers.check_compatibility(uow, "globex", plugin())
    assert store.sink.events == []


@pytest.mark.usefixtures("acme_host")
async def test_every_check_is_stored(
    uow: UnitOfWorkFactory, store: CompatMemoryStore, clock: ManualClock
) -> None:
    """Two checks of the same plugin are two records and two events with distinct ids."""
    first = await handlers.check_compatibility(uow, TENANT, plugin(engines={"node": ">=18"}))
    clock.advance(60)
    second = await handlers.check_compatibility(uow, TENANT, plugin(engines={"node": ">=22"}))
    assert first.check_id != second.check_id
    assert uuid.UUID(first.check_id).version == 4
    assert store.state.checks == {first.check_id: first, second.check_id: second}
    assert [e.check_id for e in emitted(store)] == [first.check_id, second.check_id]
    assert [e.compatible for e in emitted(store)] == [True, False]
    assert second.created_at == clock.now()


@pytest.mark.usefixtures("acme_host")
async def test_check_uses_the_latest_profile(
    uow: UnitOfWorkFactory, store: CompatMemoryStore
) -> None:
    """After the host upgrades Node, a plugin that needed a newer Node becomes compatible."""
    assert not await check(uow, plugin(engines={"node": ">=22"}))
    await handlers.set_host_profile(uow, TENANT, "1.31.0", "22.2.0", {})
    assert await check(uow, plugin(engines={"node": ">=22"}))
