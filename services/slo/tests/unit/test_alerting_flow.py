"""From slo's events to notifications, on a ManualClock, through what `build` wires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.protobuf.duration_pb2 import Duration

from portico.slo.v1 import alerting_pb2 as pb
from portico_common.clock import ManualClock
from portico_common.timestamps import to_timestamp
from portico_slo.alerting.app.retention import prune_alerting
from portico_slo.alerting.domain.alerts import AlertStatus
from portico_slo.alerting.domain.notifications import DeliveryState, NotifyReason
from portico_slo.alerting.errors import DeliveryFailedError
from portico_slo.alerting.testing import AlertingWorld

NO_CONTEXT: Any = None
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ROUTING_KEY = "0123456789abcdef0123456789abcdef"


def eq(name: str, value: str) -> pb.Matcher:
    return pb.Matcher(name=name, operator=pb.MATCH_OPERATOR_EQUAL, value=value)


def seconds(value: float) -> Duration:
    duration = Duration()
    duration.FromTimedelta(timedelta(seconds=value))
    return duration


@pytest.fixture
def world() -> AlertingWorld:
    """Alerting over the in-memory store, starting at T0."""
    return AlertingWorld(ManualClock(T0))


async def setup_routing(world: AlertingWorld, **route: Any) -> None:
    """Two channels and a tree: pages to `oncall`, tickets to `tickets`, grouped by SLO."""
    servicer = world.servicer()
    for name in ("oncall", "tickets"):
        await servicer.CreateChannel(
            pb.CreateChannelRequest(
                tenant_id="acme",
                name=name,
                pagerduty=pb.PagerDutyConfig(routing_key=ROUTING_KEY),
            ),
            NO_CONTEXT,
        )
    tree = pb.Route(
        receiver="oncall",
        group_by=pb.GroupBy(labels=["slo"]),
        group_wait=seconds(30),
        group_interval=seconds(300),
        repeat_interval=seconds(4 * 3600),
        routes=[pb.Route(matchers=[eq("severity", "ticket")], receiver="tickets")],
        **route,
    )
    await servicer.SetRoutingTree(
        pb.SetRoutingTreeRequest(tenant_id="acme", route=tree), NO_CONTEXT
    )


async def test_a_violation_pages_after_group_wait(world: AlertingWorld) -> None:
    """slo.violated becomes an alert; the page goes out once group_wait has passed."""
    await setup_routing(world)
    await world.violated(tier="1h/5m")
    assert await world.tick(29) == []
    [delivery] = await world.tick(1)
    assert delivery.state is DeliveryState.DELIVERED, delivery.error
    [sent] = world.sender.sent
    assert sent.channel.name == "oncall"
    assert sent.secrets == {"routing_key": ROUTING_KEY}
    assert sent.notification.reason is NotifyReason.FIRST_NOTIFICATION
    [alert] = sent.notification.alerts
    assert alert.labels["tier"] == "1h/5m"
    assert alert.labels["severity"] == "page"
    assert "burns its error budget 20.0x" in alert.annotations["summary"]


async def test_duplicates_are_not_notified_until_repeat_interval(world: AlertingWorld) -> None:
    """The same violation again changes nothing; after repeat_interval it is told again."""
    await setup_routing(world)
    await world.violated()
    await world.tick(30)
    await world.violated()
    for _ in range(10):
        assert await world.tick(300) == []
    assert len(world.sender.sent) == 1
    # 30 s + 11 x 300 s = 55.5 min; the repeat comes with the first flush after 4 h.
    world.clock.set(T0 + timedelta(hours=4, seconds=30))
    [repeat] = await world.tick(300)
    assert repeat.notification.reason is NotifyReason.REPEAT_INTERVAL_ELAPSED


async def test_alerts_of_one_slo_are_grouped_and_new_ones_wait_for_group_interval(
    world: AlertingWorld,
) -> None:
    """A second tier of the same SLO joins the group and is told at the next group_interval."""
    await setup_routing(world)
    await world.violated(tier="1h/5m")
    await world.tick(30)
    await world.violated(tier="6h/30m")
    assert await world.tick(299) == []
    [second] = await world.tick(1)
    assert second.notification.reason is NotifyReason.NEW_ALERTS_IN_GROUP
    assert sorted(a.labels["tier"] for a in second.notification.alerts) == ["1h/5m", "6h/30m"]
    await world.violated(slo_id="slo-2")
    await world.tick(30)
    assert world.sender.sent[-1].notification.group_labels == {"slo": "slo-2"}


async def test_a_recovery_sends_a_resolved_notification(world: AlertingWorld) -> None:
    """slo.recovered resolves the alert; the next flush says so, and the group ends."""
    await setup_routing(world)
    await world.violated()
    await world.tick(30)
    await world.recovered(tier="")
    [resolved] = await world.tick(300)
    assert resolved.notification.status is AlertStatus.RESOLVED
    assert resolved.notification.reason is NotifyReason.ALL_ALERTS_RESOLVED
    async with world.uow("acme") as tx:
        assert await tx.groups.for_tenant("acme") == []
    assert await world.tick(3600 * 5) == []


async def test_a_page_inhibits_the_ticket_of_the_same_slo(world: AlertingWorld) -> None:
    """While the page fires, the ticket of that SLO is not sent; another SLO's ticket is."""
    await setup_routing(world)
    await world.violated(tier="1h/5m", severity="page")
    await world.violated(tier="1d/2h", severity="ticket")
    await world.violated(slo_id="slo-2", tier="1d/2h", severity="ticket")
    await world.tick(30)
    sent = {
        (s.channel.name, a.labels["slo"]) for s in world.sender.sent for a in s.notification.alerts
    }
    assert sent == {("oncall", "slo-1"), ("tickets", "slo-2")}
    views = (
        await world.servicer().ListAlerts(pb.ListAlertsRequest(tenant_id="acme"), NO_CONTEXT)
    ).alerts
    inhibited = [a for a in views if a.inhibited]
    assert [(a.labels["slo"], a.state) for a in inhibited] == [("slo-1", pb.ALERT_STATE_SUPPRESSED)]


async def test_a_silence_mutes_matching_alerts_until_it_expires(world: AlertingWorld) -> None:
    """A silenced alert is not sent; once the silence expires, the next flush sends it."""
    await setup_routing(world)
    servicer = world.servicer()
    created = await servicer.CreateSilence(
        pb.CreateSilenceRequest(
            tenant_id="acme",
            matchers=[eq("slo", "slo-1")],
            ends_at=to_timestamp(T0 + timedelta(minutes=10)),
            created_by="ana",
            comment="known: a fix is rolling out",
        ),
        NO_CONTEXT,
    )
    assert created.silence.state == pb.SILENCE_STATE_ACTIVE
    await world.violated()
    assert await world.tick(30) == []
    views = (await servicer.ListAlerts(pb.ListAlertsRequest(tenant_id="acme"), NO_CONTEXT)).alerts
    assert list(views[0].silenced_by) == [created.silence.silence_id]
    await servicer.ExpireSilence(
        pb.ExpireSilenceRequest(tenant_id="acme", silence_id=created.silence.silence_id),
        NO_CONTEXT,
    )
    [told] = await world.tick(300)
    assert told.notification.reason is NotifyReason.FIRST_NOTIFICATION


async def test_without_a_routing_tree_alerts_are_recorded_not_sent(world: AlertingWorld) -> None:
    """A tenant with no tree sees its alerts and their history; nobody is notified."""
    await world.violated()
    assert await world.tick(3600) == []
    history = await world.servicer().ListAlertHistory(
        pb.ListAlertHistoryRequest(tenant_id="acme"), NO_CONTEXT
    )
    assert [e.status for e in history.entries] == [pb.ALERT_STATUS_FIRING]


async def test_setting_the_tree_later_routes_the_firing_alerts(world: AlertingWorld) -> None:
    """Alerts firing before the tree existed are regrouped and flushed at once (they are old)."""
    await world.violated()
    world.clock.advance(600)
    await setup_routing(world)
    [told] = await world.tick(0)
    assert told.notification.alerts[0].labels["slo"] == "slo-1"


async def test_a_failed_delivery_is_retried_with_backoff_and_recorded(world: AlertingWorld) -> None:
    """A receiver that fails is retried with growing waits; its outcome is in the delivery log."""
    await setup_routing(world)
    world.sender.failures = [
        DeliveryFailedError("PagerDuty answered HTTP 503", retryable=True, status_code=503),
        DeliveryFailedError("PagerDuty answered HTTP 503", retryable=True, status_code=503),
    ]
    await world.violated()
    [delivery] = await world.tick(30)
    assert (delivery.state, delivery.attempts) == (DeliveryState.DELIVERED, 3)
    assert len(world.sleeps.waits) == 2
    assert world.sleeps.waits[1] > world.sleeps.waits[0] - 0.5  # exponential, with jitter


async def test_a_delivery_that_keeps_failing_is_told_again_at_the_next_flush(
    world: AlertingWorld,
) -> None:
    """After the last attempt the delivery fails, and the group's next flush tries again."""
    await setup_routing(world)
    world.sender.failures = [
        DeliveryFailedError("PagerDuty answered HTTP 500", retryable=True, status_code=500)
    ] * 3
    await world.violated()
    [failed] = await world.tick(30)
    assert (failed.state, failed.attempts, failed.status_code) == (DeliveryState.FAILED, 3, 500)
    assert failed.error == "PagerDuty answered HTTP 500"
    assert world.metrics.outcomes == [("pagerduty", "failed", 3)]
    [again] = await world.tick(300)
    assert again.state is DeliveryState.DELIVERED
    assert again.notification.reason is NotifyReason.FIRST_NOTIFICATION
    log = await world.servicer().ListDeliveries(
        pb.ListDeliveriesRequest(tenant_id="acme"), NO_CONTEXT
    )
    assert [d.state for d in log.deliveries] == [
        pb.DELIVERY_STATE_DELIVERED,
        pb.DELIVERY_STATE_FAILED,
    ]


async def test_a_refusal_is_not_retried(world: AlertingWorld) -> None:
    """A 4xx other than 408/429 fails at once: retrying cannot change the answer."""
    await setup_routing(world)
    world.sender.failures = [
        DeliveryFailedError("PagerDuty answered HTTP 400", retryable=False, status_code=400)
    ]
    await world.violated()
    [failed] = await world.tick(30)
    assert (failed.state, failed.attempts) == (DeliveryState.FAILED, 1)
    assert world.sleeps.waits == []


async def test_a_full_queue_drops_the_oldest_pending_notification(world: AlertingWorld) -> None:
    """A channel that is not drained holds at most queue_limit notifications."""
    world.queue_limit = 2
    await setup_routing(world)
    for n in range(3):
        await world.violated(slo_id=f"slo-{n}")
    world.clock.advance(30)
    await world.flush()
    log = await world.servicer().ListDeliveries(
        pb.ListDeliveriesRequest(tenant_id="acme"), NO_CONTEXT
    )
    states = sorted(pb.DeliveryState.Name(d.state) for d in log.deliveries)
    assert states == ["DELIVERY_STATE_DROPPED", "DELIVERY_STATE_PENDING", "DELIVERY_STATE_PENDING"]
    assert [d.error for d in log.deliveries if d.state == pb.DELIVERY_STATE_DROPPED] == [
        "queue full"
    ]


async def test_tenants_see_only_their_own_alerts(world: AlertingWorld) -> None:
    """Another tenant's violation is neither listed nor routed for this tenant."""
    await setup_routing(world)
    await world.violated(tenant="globex")
    views = await world.servicer().ListAlerts(pb.ListAlertsRequest(tenant_id="acme"), NO_CONTEXT)
    assert list(views.alerts) == []
    assert await world.tick(30) == []


async def test_a_recovery_of_one_tier_leaves_the_other_tiers_firing(world: AlertingWorld) -> None:
    """slo.recovered naming a tier resolves that tier's alert only, by SLO and tier."""
    await setup_routing(world)
    await world.violated(tier="1h/5m")
    await world.violated(tier="6h/30m")
    await world.tick(30)
    await world.recovered(tier="1h/5m")
    [told] = await world.tick(300)
    assert told.notification.reason is NotifyReason.NEW_RESOLVED_ALERTS
    states = {a.labels["tier"]: a.status for a in told.notification.alerts}
    assert states == {"1h/5m": AlertStatus.RESOLVED, "6h/30m": AlertStatus.FIRING}
    await world.recovered(tier="1h/5m")
    assert await world.tick(300) == []


async def test_history_older_than_the_retention_is_pruned(world: AlertingWorld) -> None:
    """After the retention, a resolved alert, its history and its log entry are gone.

    Its deliveries stay: the kernel's batched retention purges the delivery log.
    """
    await setup_routing(world)
    await world.violated()
    await world.tick(30)
    await world.recovered(tier="")
    await world.tick(300)
    assert await prune_alerting(world.uow, retention=timedelta(days=7)) == 0
    world.clock.advance(8 * 24 * 3600)
    assert await prune_alerting(world.uow, retention=timedelta(days=7)) == 4
    async with world.uow("acme") as tx:
        assert len(await tx.deliveries.latest("acme", limit=10)) == 2
    views = await world.servicer().ListAlerts(pb.ListAlertsRequest(tenant_id="acme"), NO_CONTEXT)
    assert list(views.alerts) == []
