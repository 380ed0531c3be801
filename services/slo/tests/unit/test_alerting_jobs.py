"""The notifier and delivery jobs `build` returns: a receiver that hangs holds up nobody else."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from portico.slo.v1 import alerting_pb2 as pb
from portico_common.clock import ManualClock
from portico_slo.alerting.domain.channels import ChannelKind
from portico_slo.alerting.testing import AlertingWorld, RecordingSender

NO_CONTEXT: Any = None
SIGNING = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


async def test_a_hanging_receiver_neither_blocks_other_channels_nor_the_notifier() -> None:
    """While one channel hangs, another gets its page, and later alerts still get flushed."""
    hanging = RecordingSender(hang=asyncio.Event())
    fast = RecordingSender()
    world = AlertingWorld(
        ManualClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC)),
        by_kind={ChannelKind.WEBHOOK: hanging, ChannelKind.PAGERDUTY: fast},
    )
    servicer = world.servicer()
    await servicer.CreateChannel(
        pb.CreateChannelRequest(
            tenant_id="acme",
            name="slow",
            webhook=pb.WebhookConfig(url="https://slow.example/hook", signing_secret=SIGNING),
        ),
        NO_CONTEXT,
    )
    await servicer.CreateChannel(
        pb.CreateChannelRequest(
            tenant_id="acme",
            name="fast",
            pagerduty=pb.PagerDutyConfig(routing_key="0123456789abcdef0123456789abcdef"),
        ),
        NO_CONTEXT,
    )
    await servicer.SetRoutingTree(
        pb.SetRoutingTreeRequest(
            tenant_id="acme",
            route=pb.Route(
                receiver="fast",
                group_by=pb.GroupBy(labels=["slo"]),
                routes=[pb.Route(receiver="slow", continue_matching=True), pb.Route()],
            ),
        ),
        NO_CONTEXT,
    )
    components = world.components()
    names = sorted(job.__name__ for job in components.background)
    assert names == ["alert_delivery", "alert_notifier", "slo_breakers", "slo_upkeep"]
    stop = asyncio.Event()
    jobs = [asyncio.create_task(job(stop)) for job in components.background]
    try:
        await world.violated(slo_id="slo-1")
        world.clock.advance(30)
        async with asyncio.timeout(5):
            while not fast.sent:  # noqa: ASYNC110 - the jobs run on their own tick
                await asyncio.sleep(0.01)
        assert hanging.attempts == 1
        assert not hanging.sent
        await world.violated(slo_id="slo-2")
        world.clock.advance(30)
        async with asyncio.timeout(5):
            while len(fast.sent) < 2:  # noqa: ASYNC110 - the jobs run on their own tick
                await asyncio.sleep(0.01)
        # The slow channel is busy: its second notification waits, it is not sent in parallel.
        assert hanging.attempts == 1
        release = hanging.hang
        assert release is not None
        release.set()
        async with asyncio.timeout(5):
            while len(hanging.sent) < 2:  # noqa: ASYNC110 - the jobs run on their own tick
                await asyncio.sleep(0.01)
    finally:
        stop.set()
        async with asyncio.timeout(5):
            await asyncio.gather(*jobs)
    assert {s.notification.group_labels["slo"] for s in fast.sent} == {"slo-1", "slo-2"}
    assert [s.notification.group_labels["slo"] for s in hanging.sent] == ["slo-1", "slo-2"]
