"""The promises both adapters of the alerting ports keep (in memory and on PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from portico_common.clock import ManualClock
from portico_common.db import Database
from portico_common.memory_uow import RowLevelSecurityError
from portico_common.tenants import ALL_TENANTS
from portico_embedded.testing.databases import CONTRACT_BACKENDS, contract_backend
from portico_slo.alerting.adapters.memory import MemoryAlertingStore
from portico_slo.alerting.adapters.postgres import pg_alerting_uow
from portico_slo.alerting.app.ports import AlertingUowFactory, HistoryEntry, RoutingRecord
from portico_slo.alerting.domain.alerts import Alert, AlertStatus
from portico_slo.alerting.domain.channels import Channel, ChannelKind
from portico_slo.alerting.domain.groups import AlertGroup, LogEntry
from portico_slo.alerting.domain.inhibition import PAGE_INHIBITS_TICKET
from portico_slo.alerting.domain.labels import Matcher
from portico_slo.alerting.domain.notifications import (
    Delivery,
    DeliveryState,
    Notification,
    NotifiedAlert,
    NotifyReason,
)
from portico_slo.alerting.domain.routing import RouteConfig
from portico_slo.alerting.domain.silences import Silence

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    """A moment moved by hand."""
    return ManualClock(T0)


@pytest.fixture
def postgres_alerting(slo_db: Database, clock: ManualClock) -> AlertingUowFactory:
    """Alerting's units of work on the migrated slo schema."""
    return pg_alerting_uow(slo_db, clock)


@pytest.fixture(params=CONTRACT_BACKENDS)
def uow(request: pytest.FixtureRequest, clock: ManualClock) -> AlertingUowFactory:
    """Each contract test runs once per adapter."""
    return contract_backend(
        request,
        memory=lambda: MemoryAlertingStore(clock).uow_factory(),
        postgres="postgres_alerting",
    )


def channel(name: str = "oncall", tenant: str = "acme", channel_id: str = "") -> Channel:
    return Channel(
        tenant_id=tenant,
        channel_id=channel_id or f"{tenant}-{name}",
        name=name,
        kind=ChannelKind.PAGERDUTY,
        send_resolved=True,
        settings={"url": "https://events.pagerduty.com/v2/enqueue"},
        secret_fingerprints={"routing_key": "hmac-sha256:0011"},
        created_at=T0,
        updated_at=T0,
    )


def alert(slo: str = "s1", tenant: str = "acme", ends: datetime | None = None) -> Alert:
    return Alert(
        tenant_id=tenant,
        labels={"slo": slo, "severity": "page", "tier": "1h/5m"},
        annotations={"summary": "burning"},
        starts_at=T0,
        updated_at=ends or T0,
        ends_at=ends,
    )


def group(key: str = "g1", tenant: str = "acme", due: datetime = T0) -> AlertGroup:
    a = alert(tenant=tenant)
    return AlertGroup(
        tenant_id=tenant,
        key=key,
        receiver="oncall",
        labels={"slo": "s1"},
        group_wait=timedelta(seconds=30),
        group_interval=timedelta(minutes=5),
        repeat_interval=timedelta(hours=4),
        alerts={a.fingerprint: a},
        next_flush_at=due,
        created_at=T0,
    )


def delivery(
    nid: str, channel_id: str = "acme-oncall", tenant: str = "acme", at: datetime = T0
) -> Delivery:
    a = alert(tenant=tenant)
    return Delivery(
        notification=Notification(
            notification_id=nid,
            tenant_id=tenant,
            receiver="oncall",
            group_key="g1",
            group_labels={"slo": "s1"},
            reason=NotifyReason.FIRST_NOTIFICATION,
            alerts=(NotifiedAlert.of(a, at),),
            created_at=at,
        ),
        channel_id=channel_id,
    )


async def test_channels_are_stored_unique_by_name_and_kept_per_tenant(
    uow: AlertingUowFactory,
) -> None:
    """A name is taken once per tenant; updates, secrets and deletes touch one row."""
    async with uow("acme") as tx:
        assert await tx.channels.add(channel(), b"sealed-1")
        assert not await tx.channels.add(channel(channel_id="other-id"), b"x")
    async with uow("globex") as tx:
        assert await tx.channels.add(channel(tenant="globex"), b"sealed-g")
        assert await tx.channels.get("acme", "acme-oncall") is None
    async with uow("acme") as tx:
        assert await tx.channels.get("acme", "acme-oncall") == channel()
        assert await tx.channels.by_name("acme", "oncall") == channel()
        assert [c.name for c in await tx.channels.for_tenant("acme")] == ["oncall"]
        changed = replace(channel(), send_resolved=False, updated_at=T0 + timedelta(hours=1))
        await tx.channels.update(changed, b"sealed-2")
    async with uow("acme") as tx:
        assert await tx.channels.get("acme", "acme-oncall") == changed
        assert await tx.channels.sealed_secrets("acme", "acme-oncall") == b"sealed-2"
        assert await tx.channels.delete("acme", "acme-oncall")
        assert not await tx.channels.delete("acme", "acme-oncall")
    async with uow("globex") as tx:
        assert await tx.channels.sealed_secrets("globex", "globex-oncall") == b"sealed-g"


async def test_a_tenant_cannot_write_another_tenants_rows(uow: AlertingUowFactory) -> None:
    """Row-level security refuses a row of another tenant."""
    with pytest.raises((RowLevelSecurityError, asyncpg.InsufficientPrivilegeError)):
        async with uow("acme") as tx:
            await tx.alerts.put(alert(tenant="globex"))


async def test_routing_records_round_trip_and_are_replaced(uow: AlertingUowFactory) -> None:
    """A tree with matchers, timers and rules reads back equal; put replaces; delete removes."""
    record = RoutingRecord(
        tenant_id="acme",
        root=RouteConfig(
            receiver="oncall",
            group_by=("slo",),
            group_wait=timedelta(seconds=10),
            routes=(
                RouteConfig(
                    matchers=(Matcher.of("severity", "=~", "ticket|info"),),
                    receiver="tickets",
                    continue_matching=True,
                    repeat_interval=timedelta(hours=12),
                ),
            ),
        ),
        inhibit_rules=(PAGE_INHIBITS_TICKET,),
        default_inhibition_disabled=True,
        updated_at=T0,
        updated_by="ana",
    )
    async with uow("acme") as tx:
        assert await tx.routing.get("acme") is None
        await tx.routing.put(record)
        await tx.routing.put(replace(record, updated_by="bo"))
    async with uow("acme") as tx:
        assert await tx.routing.get("acme") == replace(record, updated_by="bo")
        assert await tx.routing.delete("acme")
        assert await tx.routing.get("acme") is None


async def test_silences_are_saved_and_replaced_by_id(uow: AlertingUowFactory) -> None:
    """Saving a silence with a known id replaces it."""
    silence = Silence(
        silence_id="s-1",
        tenant_id="acme",
        matchers=(Matcher.of("slo", "=", "s1"), Matcher.of("tier", "!~", "1d.*")),
        starts_at=T0,
        ends_at=T0 + timedelta(hours=1),
        created_by="ana",
        comment="maintenance",
        updated_at=T0,
    )
    async with uow("acme") as tx:
        await tx.silences.save(silence)
        await tx.silences.save(replace(silence, ends_at=T0 + timedelta(hours=2)))
    async with uow("acme") as tx:
        assert await tx.silences.get("acme", "s-1") == replace(
            silence, ends_at=T0 + timedelta(hours=2)
        )
        assert len(await tx.silences.for_tenant("acme")) == 1
    async with uow("globex") as tx:
        assert await tx.silences.for_tenant("acme") == []


async def test_alerts_keep_their_latest_state_and_history_its_changes(
    uow: AlertingUowFactory,
) -> None:
    """put replaces the alert with its labels; history lists newest first, limited."""
    async with uow("acme") as tx:
        await tx.alerts.put(alert())
        await tx.alerts.put(alert(ends=T0 + timedelta(minutes=5)))
        await tx.alerts.put(alert(slo="s2"))
        for n, status in enumerate((AlertStatus.FIRING, AlertStatus.RESOLVED, AlertStatus.FIRING)):
            await tx.alerts.record(
                HistoryEntry(
                    tenant_id="acme",
                    fingerprint=alert().fingerprint,
                    labels=alert().labels,
                    status=status,
                    at=T0 + timedelta(minutes=n),
                    event_id=f"e{n}",
                )
            )
    async with uow("acme") as tx:
        got = await tx.alerts.get("acme", alert().fingerprint)
        assert got == alert(ends=T0 + timedelta(minutes=5))
        assert len(await tx.alerts.for_tenant("acme")) == 2
        assert [e.event_id for e in await tx.alerts.history("acme", limit=2)] == ["e2", "e1"]


async def test_due_groups_are_claimed_in_order_across_tenants(uow: AlertingUowFactory) -> None:
    """claim_due returns the groups due by now, oldest first, and only those."""
    async with uow("acme") as tx:
        await tx.groups.save(group("late", due=T0 + timedelta(minutes=1)))
        await tx.groups.save(group("g1", due=T0))
    async with uow("globex") as tx:
        await tx.groups.save(group("g0", tenant="globex", due=T0 - timedelta(seconds=1)))
    async with uow(ALL_TENANTS) as tx:
        due = await tx.groups.claim_due(T0, 10)
        assert [(g.tenant_id, g.key) for g in due] == [("globex", "g0"), ("acme", "g1")]
        assert due[1] == group("g1")
        assert [g.key for g in await tx.groups.claim_due(T0, 1)] == ["g0"]
    async with uow("acme") as tx:
        moved = replace(group("g1"), next_flush_at=T0 + timedelta(minutes=5), alerts={})
        await tx.groups.save(moved)
        assert await tx.groups.get("acme", "g1") == moved
        await tx.groups.delete("acme", "g1")
        assert [g.key for g in await tx.groups.for_tenant("acme")] == ["late"]


async def test_the_notification_log_forgets_only_the_entry_a_notification_made(
    uow: AlertingUowFactory,
) -> None:
    """forget with another notification's id leaves the entry; with its own, removes it."""
    entry = LogEntry(
        tenant_id="acme",
        group_key="g1",
        receiver="oncall",
        firing=frozenset({"a", "b"}),
        resolved=frozenset({"c"}),
        notified_at=T0,
        notification_id="n-1",
    )
    async with uow("acme") as tx:
        await tx.nflog.put(entry)
        await tx.nflog.put(replace(entry, notification_id="n-2"))
    async with uow("acme") as tx:
        assert await tx.nflog.get("acme", "g1", "oncall") == replace(entry, notification_id="n-2")
        assert not await tx.nflog.forget("acme", "g1", "oncall", "n-1")
        assert await tx.nflog.forget("acme", "g1", "oncall", "n-2")
        assert await tx.nflog.get("acme", "g1", "oncall") is None


async def test_the_queue_is_bounded_per_channel(uow: AlertingUowFactory) -> None:
    """Beyond max_pending, the channel's oldest pending notifications are dropped."""
    async with uow("acme") as tx:
        await tx.channels.add(channel(), b"sealed")
        for n in range(3):
            dropped = await tx.deliveries.enqueue(
                delivery(f"n{n}", at=T0 + timedelta(seconds=n)), max_pending=2, now=T0
            )
        assert dropped == 1
        await tx.deliveries.enqueue(delivery("other", channel_id="x"), max_pending=2, now=T0)
    async with uow("acme") as tx:
        latest = await tx.deliveries.latest("acme", limit=10, channel_id="acme-oncall")
        assert [(d.notification_id, d.state) for d in latest] == [
            ("n2", DeliveryState.PENDING),
            ("n1", DeliveryState.PENDING),
            ("n0", DeliveryState.DROPPED),
        ]
        assert latest[-1].error == "queue full"
        assert len(await tx.deliveries.latest("acme", limit=10)) == 4


async def test_claims_take_pending_deliveries_with_their_channel_under_a_lease(
    uow: AlertingUowFactory,
) -> None:
    """A claim marks deliveries SENDING until the lease lapses; busy channels are skipped."""
    async with uow("acme") as tx:
        await tx.channels.add(channel(), b"sealed")
        await tx.deliveries.enqueue(delivery("n0"), max_pending=10, now=T0)
        await tx.deliveries.enqueue(delivery("gone", channel_id="deleted"), max_pending=10, now=T0)
    async with uow(ALL_TENANTS) as tx:
        assert (
            await tx.deliveries.claim(
                T0,
                limit=10,
                lease=timedelta(minutes=2),
                skip_channels=frozenset({"acme-oncall", "deleted"}),
            )
            == []
        )
        claimed = await tx.deliveries.claim(
            T0, limit=10, lease=timedelta(minutes=2), skip_channels=frozenset()
        )
    by_id = {c.delivery.notification_id: c for c in claimed}
    assert set(by_id) == {"n0", "gone"}
    assert by_id["n0"].channel == channel()
    assert by_id["n0"].sealed_secrets == b"sealed"
    assert by_id["n0"].delivery.state is DeliveryState.SENDING
    assert by_id["gone"].channel is None
    async with uow(ALL_TENANTS) as tx:
        held = await tx.deliveries.claim(
            T0 + timedelta(minutes=1),
            limit=10,
            lease=timedelta(minutes=2),
            skip_channels=frozenset(),
        )
        assert held == []
        retaken = await tx.deliveries.claim(
            T0 + timedelta(minutes=2),
            limit=1,
            lease=timedelta(minutes=2),
            skip_channels=frozenset(),
        )
        assert len(retaken) == 1
    done = replace(
        by_id["n0"].delivery,
        state=DeliveryState.DELIVERED,
        attempts=2,
        status_code=202,
        lease_until=None,
        finished_at=T0 + timedelta(minutes=3),
    )
    async with uow("acme") as tx:
        await tx.deliveries.finish(done)
    async with uow("acme") as tx:
        [got] = await tx.deliveries.latest("acme", limit=1, channel_id="acme-oncall")
        assert got == done


async def test_pruning_deletes_only_what_is_older_than_the_cutoff(uow: AlertingUowFactory) -> None:
    """Resolved alerts, history and log entries before the cutoff go; deliveries are not its."""
    cutoff = T0 + timedelta(days=7)
    async with uow("acme") as tx:
        await tx.alerts.put(alert(slo="old", ends=T0 + timedelta(hours=1)))
        await tx.alerts.put(alert(slo="firing"))
        await tx.alerts.put(alert(slo="recent", ends=cutoff + timedelta(hours=1)))
        for n, at in enumerate((T0, cutoff + timedelta(minutes=1))):
            await tx.alerts.record(
                HistoryEntry(
                    tenant_id="acme",
                    fingerprint="f",
                    labels={"slo": "x"},
                    status=AlertStatus.FIRING,
                    at=at,
                    event_id=f"e{n}",
                )
            )
        for key, at in (("old", T0), ("new", cutoff + timedelta(minutes=1))):
            await tx.nflog.put(
                LogEntry(
                    tenant_id="acme",
                    group_key=key,
                    receiver="oncall",
                    firing=frozenset(),
                    resolved=frozenset(),
                    notified_at=at,
                )
            )
        finished = replace(delivery("done"), state=DeliveryState.DELIVERED, finished_at=T0)
        await tx.deliveries.finish(finished)
        await tx.deliveries.enqueue(delivery("pending"), max_pending=10, now=T0)
    async with uow(ALL_TENANTS) as tx:
        assert await tx.alerts.prune(cutoff) == 2
        assert await tx.nflog.prune(cutoff) == 1
    async with uow("acme") as tx:
        assert sorted(a.labels["slo"] for a in await tx.alerts.for_tenant("acme")) == [
            "firing",
            "recent",
        ]
        assert [e.event_id for e in await tx.alerts.history("acme", limit=10)] == ["e1"]
        assert await tx.nflog.get("acme", "old", "oncall") is None
        assert await tx.nflog.get("acme", "new", "oncall") is not None
        # The delivery log is the kernel retention's (bootstrap.retention_rules), not this prune's.
        assert sorted(d.notification_id for d in await tx.deliveries.latest("acme", limit=10)) == [
            "done",
            "pending",
        ]
