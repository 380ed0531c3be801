"""The tenant lifecycle over the in-memory adapter: states, events, grace period, saga."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portico.events.v1 import events_pb2 as ev
from portico_tenancy.app import handlers, lifecycle
from portico_tenancy.app.lifecycle import MetadataChange
from portico_tenancy.domain.tenant import TenantQuery, TenantState
from portico_tenancy.errors import InvalidReportError, InvalidTenantError, TenantStateError
from portico_tenancy.testing import TenancyWorld as World

GRACE = timedelta(days=7)
SERVICES = ("rollout", "slo")


async def test_suspend_and_resume_emit_one_event_each() -> None:
    """Suspending an active tenant and resuming it emit tenant.suspended then tenant.resumed."""
    world = World()
    await handlers.create_tenant(world.uow, "acme", "Acme")
    suspended = await lifecycle.suspend_tenant(world.uow, "acme", "unpaid invoice")
    assert suspended.state is TenantState.SUSPENDED
    assert suspended.suspension_reason == "unpaid invoice"
    resumed = await lifecycle.resume_tenant(world.uow, "acme")
    assert resumed.state is TenantState.ACTIVE
    kinds = [type(m) for m in world.committed]
    assert kinds == [ev.TenantCreated, ev.TenantSuspended, ev.TenantResumed]


async def test_refused_moves_name_the_state_and_change_nothing() -> None:
    """Resuming an active tenant or suspending without a reason is refused, no event."""
    world = World()
    await handlers.create_tenant(world.uow, "acme", "Acme")
    with pytest.raises(TenantStateError, match="cannot resume tenant 'acme': it is active"):
        await lifecycle.resume_tenant(world.uow, "acme")
    with pytest.raises(InvalidTenantError, match="reason is required"):
        await lifecycle.suspend_tenant(world.uow, "acme", "  ")
    assert len(world.committed) == 1


async def test_deletion_is_restorable_within_the_grace_period_to_the_state_it_left() -> None:
    """A suspended tenant scheduled for deletion and restored is suspended again."""
    world = World()
    await handlers.create_tenant(world.uow, "acme", "Acme")
    await lifecycle.suspend_tenant(world.uow, "acme", "abuse")
    deleting = await lifecycle.delete_tenant(world.uow, "acme", GRACE)
    assert deleting.state is TenantState.DELETING
    assert deleting.delete_after == world.clock.now() + GRACE
    world.clock.advance(days=6)
    restored = await lifecycle.restore_tenant(world.uow, "acme")
    assert restored.state is TenantState.SUSPENDED
    assert isinstance(world.committed[-1], ev.TenantDeletionCancelled)


async def test_the_grace_period_ends_by_the_clock_then_the_saga_deletes_the_tenant() -> None:
    """After the grace period deletion is requested; the last service's report deletes it."""
    world = World()
    await handlers.create_tenant(world.uow, "acme", "Acme")
    await lifecycle.delete_tenant(world.uow, "acme", GRACE)
    assert await lifecycle.request_due_deletions(world.uow, SERVICES) == []
    world.clock.advance(days=7)
    (requested,) = await lifecycle.request_due_deletions(world.uow, SERVICES)
    assert requested.deletion_requested_at == world.clock.now()
    assert list(world.committed[-1].services) == list(SERVICES)  # type: ignore[attr-defined]
    with pytest.raises(TenantStateError, match="grace period ended"):
        await lifecycle.restore_tenant(world.uow, "acme")
    after_one = await lifecycle.report_data_deleted(world.uow, "acme", "rollout", 3, SERVICES)
    assert after_one.state is TenantState.DELETING
    again = await lifecycle.report_data_deleted(world.uow, "acme", "rollout", 3, SERVICES)
    assert again.state is TenantState.DELETING
    async with world.uow("acme") as tx:
        assert await tx.data_keys.ring("acme") is None
    done = await lifecycle.report_data_deleted(world.uow, "acme", "slo", 0, SERVICES)
    assert done.state is TenantState.DELETED
    assert isinstance(world.committed[-1], ev.TenantDeleted)
    # The deleted tenant's keys are destroyed with it: what was kept sealed stays unreadable.
    async with world.uow("acme") as tx:
        ring = await tx.data_keys.ring("acme")
    assert ring is not None
    assert ring.shredded_at == world.clock.now()


async def test_a_report_from_a_service_the_saga_does_not_wait_for_is_refused() -> None:
    """Only the topology's services report, and only once deletion was requested."""
    world = World()
    await handlers.create_tenant(world.uow, "acme", "Acme")
    with pytest.raises(InvalidReportError, match="not one the deletion waits for"):
        await lifecycle.report_data_deleted(world.uow, "acme", "gateway", 0, SERVICES)
    with pytest.raises(InvalidReportError, match="was not requested"):
        await lifecycle.report_data_deleted(world.uow, "acme", "slo", 0, SERVICES)


async def test_list_filters_by_state_plan_and_labels_and_pages() -> None:
    """ListTenants filters on state, plan and labels, and pages by id."""
    world = World()
    for i in range(5):
        await handlers.create_tenant(world.uow, f"t{i}", "")
        await lifecycle.update_tenant(
            world.uow,
            f"t{i}",
            MetadataChange(plan="team" if i % 2 else "free", labels={"region": "eu"}),
        )
    await lifecycle.suspend_tenant(world.uow, "t3", "late")
    page, token = await lifecycle.list_tenants(world.uow, TenantQuery(plan="team"), "", 1)
    assert [t.tenant_id for t in page] == ["t1"]
    page, token = await lifecycle.list_tenants(world.uow, TenantQuery(plan="team"), token, 1)
    assert [t.tenant_id for t in page] == ["t3"]
    assert token == ""
    suspended, _ = await lifecycle.list_tenants(
        world.uow, TenantQuery(state=TenantState.SUSPENDED, labels={"region": "eu"}), "", 10
    )
    assert [t.tenant_id for t in suspended] == ["t3"]
    refused = await lifecycle.refused_states(world.uow)
    assert refused == {"t3": "suspended"}


async def test_metadata_is_validated() -> None:
    """Contacts must be e-mail addresses and label keys slugs."""
    world = World()
    await handlers.create_tenant(world.uow, "acme", "Acme")
    with pytest.raises(InvalidTenantError, match="e-mail"):
        await lifecycle.update_tenant(world.uow, "acme", MetadataChange(owner_contacts=["bob"]))
    with pytest.raises(InvalidTenantError, match="label key"):
        await lifecycle.update_tenant(world.uow, "acme", MetadataChange(labels={"Bad Key": "x"}))
    updated = await lifecycle.update_tenant(
        world.uow, "acme", MetadataChange(owner_contacts=["ops@acme.example"])
    )
    assert updated.owner_contacts == ("ops@acme.example",)
