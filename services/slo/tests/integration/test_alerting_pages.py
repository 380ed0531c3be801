"""An SLO violation pages a PagerDuty-format receiver, and its recovery resolves the incident.

slo runs in this process on real PostgreSQL and JetStream: the violation is
written to the outbox with the evidence, relayed to NATS, read back by slo's
own `slo-alerting` durable consumer, routed, flushed by the notifier and
delivered by the delivery job to a local receiver checking the Events API v2
schema.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import grpc
import nats
import pytest
from google.protobuf.duration_pb2 import Duration
from pydantic import SecretStr

from portico.events.v1 import events_pb2 as ev
from portico.slo.v1 import alerting_pb2 as apb
from portico.slo.v1 import alerting_pb2_grpc, slo_pb2_grpc
from portico.slo.v1 import slo_pb2 as spb
from portico_common.clock import SystemClock
from portico_common.events.bus import publish
from portico_common.events.envelope import Envelope
from portico_common.events.topology import source_of
from portico_common.timestamps import to_timestamp
from portico_embedded.testing.data_keys import DataKeysServer
from portico_embedded.testing.fixtures import ServiceDatabaseUrl, unique_tenant
from portico_embedded.testing.services import serving_in_process
from portico_slo.bootstrap import run
from portico_slo.settings import SloSettings

if TYPE_CHECKING:
    # conftest is not importable at run time under --import-mode=importlib.
    from conftest import Answer, Formats, HttpReceiver, Request

pytestmark = pytest.mark.integration

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"


def seconds(value: float) -> Duration:
    duration = Duration()
    duration.FromTimedelta(timedelta(seconds=value))
    return duration


async def wait_for(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(15):
        while not check():  # noqa: ASYNC110 - the receiver runs in another thread
            await asyncio.sleep(0.05)


async def test_a_violation_pages_and_a_recovery_resolves(
    service_database_url: ServiceDatabaseUrl,
    nats_url: str,
    http_receiver: Callable[[Callable[[Request], Answer]], HttpReceiver],
    formats: Formats,
    data_keys_server: DataKeysServer,
) -> None:
    """ReportOutcomes trips the SLO; PagerDuty gets a trigger, then a resolve with the same key."""
    receiver = http_receiver(formats.pagerduty)
    settings = SloSettings.model_validate(
        {
            "database_url": SecretStr(await service_database_url("slo")),
            "nats_url": nats_url,
            "grpc_port": 0,
            "metrics_port": -1,
            "auth_target": "",
            "slo_channel_secret_key": SecretStr("integration key of at least 32 characters"),
            "tenancy_target": data_keys_server.target,
            "slo_alerting_tick_seconds": 0.05,
        }
    )
    tenant = unique_tenant()
    async with (
        serving_in_process(run, settings, clock=SystemClock()) as port,
        grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):
        alerting = alerting_pb2_grpc.AlertingServiceStub(channel)
        slos = slo_pb2_grpc.SloServiceStub(channel)
        created = await alerting.CreateChannel(
            apb.CreateChannelRequest(
                tenant_id=tenant,
                name="oncall",
                pagerduty=apb.PagerDutyConfig(
                    url=receiver.url + "/v2/enqueue", routing_key=ROUTING_KEY
                ),
            )
        )
        assert ROUTING_KEY not in str(created)
        await alerting.SetRoutingTree(
            apb.SetRoutingTreeRequest(
                tenant_id=tenant,
                route=apb.Route(
                    receiver="oncall",
                    group_by=apb.GroupBy(labels=["slo"]),
                    group_wait=seconds(0),
                    group_interval=seconds(1),
                ),
            )
        )
        slo = await slos.CreateSlo(
            spb.CreateSloRequest(
                tenant_id=tenant, plugin="@acme/p", version="1.0.0", objective=0.99
            )
        )
        report = await slos.ReportOutcomes(
            spb.ReportOutcomesRequest(
                tenant_id=tenant,
                plugin="@acme/p",
                version="1.0.0",
                outcomes=[spb.Outcome(success=False)] * 20,
            )
        )
        assert report.violated
        await wait_for(lambda: len(receiver.requests) >= 1)
        trigger = receiver.requests[0].json()
        assert trigger["event_action"] == "trigger"
        assert trigger["routing_key"] == ROUTING_KEY
        assert trigger["dedup_key"].startswith(f"portico/{tenant}/{slo.slo.slo_id}/")
        assert trigger["payload"]["component"] == "@acme/p"

        # slo.recovered as slo publishes it (the evaluator's recovery is another slice's).
        nc = await nats.connect(nats_url)
        try:
            await publish(
                nc.jetstream(),
                Envelope.of(
                    ev.SloRecovered(
                        tenant_id=tenant,
                        slo_id=slo.slo.slo_id,
                        plugin="@acme/p",
                        version="1.0.0",
                        recovered_at=to_timestamp(SystemClock().now()),
                    ),
                    source=source_of("slo"),
                    tenant_id=tenant,
                    time=SystemClock().now(),
                ),
            )
        finally:
            await nc.close()
        await wait_for(lambda: len(receiver.requests) >= 2)
        resolve = receiver.requests[1].json()
        assert resolve == {
            "routing_key": ROUTING_KEY,
            "event_action": "resolve",
            "dedup_key": trigger["dedup_key"],
        }

        deliveries = await alerting.ListDeliveries(apb.ListDeliveriesRequest(tenant_id=tenant))
        assert [(d.state, d.status) for d in deliveries.deliveries] == [
            (apb.DELIVERY_STATE_DELIVERED, apb.ALERT_STATUS_RESOLVED),
            (apb.DELIVERY_STATE_DELIVERED, apb.ALERT_STATUS_FIRING),
        ]
        history = await alerting.ListAlertHistory(apb.ListAlertHistoryRequest(tenant_id=tenant))
        assert [e.status for e in history.entries] == [
            apb.ALERT_STATUS_RESOLVED,
            apb.ALERT_STATUS_FIRING,
        ]


async def test_a_receiver_that_is_down_never_holds_up_a_violation(
    service_database_url: ServiceDatabaseUrl,
    nats_url: str,
    http_receiver: Callable[[Callable[[Request], Answer]], HttpReceiver],
    data_keys_server: DataKeysServer,
) -> None:
    """With the channel answering 503, reports still trip at once and failures are logged."""
    receiver = http_receiver(lambda _: (503, "down"))
    settings = SloSettings.model_validate(
        {
            "database_url": SecretStr(await service_database_url("slo")),
            "nats_url": nats_url,
            "grpc_port": 0,
            "metrics_port": -1,
            "auth_target": "",
            "slo_channel_secret_key": SecretStr("integration key of at least 32 characters"),
            "tenancy_target": data_keys_server.target,
            "slo_alerting_tick_seconds": 0.05,
            "slo_alerting_send_timeout_seconds": 1.0,
        }
    )
    tenant = unique_tenant()
    async with (
        serving_in_process(run, settings, clock=SystemClock()) as port,
        grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):
        alerting = alerting_pb2_grpc.AlertingServiceStub(channel)
        slos = slo_pb2_grpc.SloServiceStub(channel)
        await alerting.CreateChannel(
            apb.CreateChannelRequest(
                tenant_id=tenant,
                name="hook",
                alertmanager=apb.AlertmanagerConfig(url=receiver.url),
            )
        )
        await alerting.SetRoutingTree(
            apb.SetRoutingTreeRequest(
                tenant_id=tenant, route=apb.Route(receiver="hook", group_wait=seconds(0))
            )
        )
        for version in ("1.0.0", "1.0.1"):
            await slos.CreateSlo(
                spb.CreateSloRequest(
                    tenant_id=tenant, plugin="@acme/p", version=version, objective=0.99
                )
            )
            started = asyncio.get_running_loop().time()
            report = await slos.ReportOutcomes(
                spb.ReportOutcomesRequest(
                    tenant_id=tenant,
                    plugin="@acme/p",
                    version=version,
                    outcomes=[spb.Outcome(success=False)] * 20,
                )
            )
            assert report.violated
            assert asyncio.get_running_loop().time() - started < 1.0
        await wait_for(lambda: len(receiver.requests) >= 1)

        async def failed() -> list[apb.Delivery]:
            listed = await alerting.ListDeliveries(apb.ListDeliveriesRequest(tenant_id=tenant))
            return [d for d in listed.deliveries if d.state == apb.DELIVERY_STATE_FAILED]

        async with asyncio.timeout(30):
            while not await failed():  # noqa: ASYNC110 - polling another service's API
                await asyncio.sleep(0.1)
        [first, *_] = await failed()
        assert first.status_code == 503
        assert first.attempts == 4
        assert receiver.url not in first.error
