"""The tenant's dashboard beyond its SLOs: breaker states and the alert history, in memory."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf.duration_pb2 import Duration

from portico.slo.v1 import alerting_pb2 as apb
from portico.slo.v1 import slo_pb2 as pb
from portico_common.clock import ManualClock
from portico_slo.adapters.alert_feed import DeliveryLogFeed
from portico_slo.adapters.memory import MemoryBurnRates, MemoryStore
from portico_slo.alerting.errors import DeliveryFailedError
from portico_slo.alerting.testing import AlertingWorld
from portico_slo.app import breakers, handlers
from portico_slo.app.dashboard import tenant_dashboard
from portico_slo.app.validation import ReportedOutcome
from portico_slo.bootstrap import Dependencies, build
from portico_slo.domain.breakers_config import BreakerConfig, BreakerState
from portico_slo.entrypoints.grpc_api import SloServicer

NO_CONTEXT: Any = None
TENANT = "acme"
PLUGIN = "@acme/plugin-cost-insights"
OTHER = "@acme/other"
ROUTING_KEY = "0123456789abcdef0123456789abcdef"
SMALL = BreakerConfig(sliding_window_size=5, minimum_number_of_calls=5)


def _seconds(value: float) -> Duration:
    duration = Duration()
    duration.FromSeconds(int(value))
    return duration


@pytest.fixture
def world(clock: ManualClock) -> AlertingWorld:
    """Alerting in memory on the test's clock."""
    return AlertingWorld(clock)


async def _route_pages(world: AlertingWorld) -> None:
    """One PagerDuty channel, `oncall`, taking every alert, grouped per SLO and tier."""
    servicer = world.servicer()
    await servicer.CreateChannel(
        apb.CreateChannelRequest(
            tenant_id=TENANT, name="oncall", pagerduty=apb.PagerDutyConfig(routing_key=ROUTING_KEY)
        ),
        NO_CONTEXT,
    )
    tree = apb.Route(
        receiver="oncall",
        group_by=apb.GroupBy(labels=["slo", "tier"]),
        group_wait=_seconds(30),
        group_interval=_seconds(300),
        repeat_interval=_seconds(4 * 3600),
    )
    await servicer.SetRoutingTree(
        apb.SetRoutingTreeRequest(tenant_id=TENANT, route=tree), NO_CONTEXT
    )


async def _open_breaker(store: MemoryStore, gauge: MemoryBurnRates) -> str:
    """A 99% SLO on PLUGIN 2.3.0 whose small breaker a 60%-failing report opens."""
    slo = await handlers.create_slo(
        store.uow_factory(), gauge, tenant_id=TENANT, plugin=PLUGIN, version="2.3.0", objective=0.99
    )
    await breakers.configure_breaker(
        store.uow_factory(), tenant_id=TENANT, plugin=PLUGIN, version="2.3.0", config=SMALL
    )
    await handlers.report_outcomes(
        store.uow_factory(),
        gauge,
        tenant_id=TENANT,
        plugin=PLUGIN,
        version="2.3.0",
        outcomes=[ReportedOutcome(False, 5)] * 3 + [ReportedOutcome(True, 5)] * 2,
    )
    return slo.slo_id


async def test_breakers_are_listed_and_attached_to_the_panels_of_their_version(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """The opened breaker shows its state, since and rates; it sits on its version's and
    its plugin's panels, not on another plugin's; no feed, no history."""
    versioned = await _open_breaker(store, gauge)
    plugin_wide = await handlers.create_slo(
        store.uow_factory(), gauge, tenant_id=TENANT, plugin=PLUGIN, version="", objective=0.99
    )
    other = await handlers.create_slo(
        store.uow_factory(), gauge, tenant_id=TENANT, plugin=OTHER, version="1.0.0", objective=0.99
    )

    whole = await tenant_dashboard(store.uow_factory(), None, tenant_id=TENANT)

    [breaker] = [b for b in whole.breakers if b.plugin == PLUGIN]
    assert (breaker.version, breaker.state) == ("2.3.0", BreakerState.OPEN)
    assert breaker.since == clock.now()
    assert (breaker.failure_rate, breaker.slow_call_rate) == (60.0, 0.0)
    # The other plugin's version SLO brought its own (closed) breaker.
    assert [(b.plugin, b.state) for b in whole.breakers] == [
        (OTHER, BreakerState.CLOSED),
        (PLUGIN, BreakerState.OPEN),
    ]
    panels = {p.slo.slo_id: p for p in whole.board.panels}
    assert whole.breakers_of(panels[versioned]) == [breaker]
    assert whole.breakers_of(panels[plugin_wide.slo_id]) == [breaker]
    assert [b.plugin for b in whole.breakers_of(panels[other.slo_id])] == [OTHER]
    assert whole.alert_history == []
    only = await tenant_dashboard(store.uow_factory(), None, tenant_id=TENANT, plugin=OTHER)
    assert [b.plugin for b in only.breakers] == [OTHER]


async def test_alert_history_is_the_delivery_log_newest_first_and_bounded(
    world: AlertingWorld, clock: ManualClock
) -> None:
    """Each notification's alert comes with its receiver and outcome, newest first; a
    failed delivery says so with its attempts; the feed returns only the latest ones."""
    await _route_pages(world)
    await world.violated(slo_id="slo-1", tier="page-1h")
    await world.tick(30)
    clock.advance(60)
    world.sender.failures = [
        DeliveryFailedError("PagerDuty answered HTTP 503", retryable=True, status_code=503)
    ] * 3
    await world.violated(slo_id="slo-2", tier="page-6h", severity="page")
    await world.tick(30)
    # The group whose notification failed is notified again at its next interval.
    await world.tick(300)
    clock.advance(60)
    await world.recovered(slo_id="slo-1", tier="page-1h")
    await world.tick(300)

    feed = DeliveryLogFeed(world.uow)
    history = await feed.recent(TENANT, notifications=50)

    assert [(a.slo_id, a.tier, a.status, a.delivery, a.attempts) for a in history] == [
        ("slo-1", "page-1h", "resolved", "delivered", 1),
        ("slo-2", "page-6h", "firing", "delivered", 1),
        ("slo-2", "page-6h", "firing", "failed", 3),
        ("slo-1", "page-1h", "firing", "delivered", 1),
    ]
    assert {(a.receiver, a.plugin, a.severity) for a in history} == {("oncall", PLUGIN, "page")}
    # One alert per SLO tier: the resolve carries the firing alert's id.
    assert history[0].alert_id == history[3].alert_id != history[1].alert_id
    assert history[1].alert_id == history[2].alert_id
    assert history[0].at > history[1].at > history[2].at > history[3].at
    assert [a.slo_id for a in await feed.recent(TENANT, notifications=2)] == ["slo-1", "slo-2"]
    assert await feed.recent("other-tenant", notifications=50) == []


async def test_the_rpc_gives_breakers_and_alert_history_beside_the_panels(
    world: AlertingWorld, store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """GetSloDashboard, as `build` wires it with alerting, fills the tenant's breakers and
    history and each panel's own breakers and alerts."""
    [api, *_] = build(
        Dependencies(
            uow=store.uow_factory(), clock=clock, gauge=gauge, alerting=world.dependencies()
        )
    ).servicers
    assert isinstance(api.implementation, SloServicer)
    slo_id = await _open_breaker(store, gauge)
    await _route_pages(world)
    await world.violated(slo_id=slo_id, tier="page-1h", version="2.3.0")
    await world.violated(slo_id="gone", tier="page-1h", plugin=OTHER)
    await world.tick(30)

    board = await api.implementation.GetSloDashboard(
        pb.GetSloDashboardRequest(tenant_id=TENANT), NO_CONTEXT
    )

    [summary] = board.breakers
    assert (summary.plugin, summary.version, summary.state) == (PLUGIN, "2.3.0", "open")
    assert (summary.failure_rate, summary.since.ToDatetime().year) == (60.0, clock.now().year)
    assert {(a.slo_id, a.state, a.delivery, a.receiver) for a in board.alert_history} == {
        (slo_id, "firing", "delivered", "oncall"),
        ("gone", "firing", "delivered", "oncall"),
    }
    [panel] = board.slos
    assert list(panel.breakers) == [summary]
    assert [(a.slo_id, a.tier, a.severity) for a in panel.alerts] == [(slo_id, "page-1h", "page")]
    mine = await api.implementation.GetSloDashboard(
        pb.GetSloDashboardRequest(tenant_id=TENANT, plugin=PLUGIN), NO_CONTEXT
    )
    assert [a.slo_id for a in mine.alert_history] == [slo_id]
