"""RED metrics per event type and consumer lag, read from a real consumer on NATS."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY

from portico.events.v1 import events_pb2 as ev
from portico_common.db import Connection
from portico_common.events.consumer import ConsumerSettings, EventConsumer
from portico_common.events.envelope import Envelope
from portico_embedded.testing.fixtures import unique

pytestmark = pytest.mark.integration

SERVICE = "kerneltest"
FAST = ConsumerSettings(
    max_deliver=2, fetch_timeout_seconds=0.2, nak_backoff_seconds=(0.05,), lag_seconds=0.1
)


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_redeliveries_dead_letters_latency_and_lag_are_counted(infra: Any) -> None:
    """A failing event counts one redelivery then one dead letter; a good one its latency.

    The consumer's lag gauge shows the messages it has not been delivered yet.
    """
    durable = unique("metrics")

    async def handler(envelope: Envelope, conn: Connection) -> None:
        if envelope.payload.slo_id == "bad":  # type: ignore[attr-defined]
            raise RuntimeError("cannot")

    consumer = EventConsumer(infra.js, infra.db, durable, {"slo.violated": handler}, FAST)
    await consumer.setup()
    for slo in ("bad", "good", "good2"):
        payload = ev.SloViolated(tenant_id="acme", slo_id=slo, plugin="@a/p", version="1.0.0")
        envelope = Envelope.of(payload, source="portico/slo", tenant_id="acme")
        await infra.js.publish(envelope.nats_subject, envelope.body(), headers=envelope.headers())
    await consumer.record_lag()
    assert value("portico_consumer_pending", service=SERVICE, consumer=durable) == 3

    handled_before = value(
        "portico_event_handle_duration_seconds_count", service=SERVICE, type="slo.violated"
    )
    infra.background.start(consumer.run)

    async def dead_lettered() -> float:
        return value(
            "portico_events_dead_lettered_total",
            service=SERVICE,
            consumer=durable,
            kind="slo.violated",
        )

    await infra.until(dead_lettered, lambda v: v == 1, what="one dead letter")
    assert (
        value(
            "portico_events_redelivered_total",
            service=SERVICE,
            consumer=durable,
            type="slo.violated",
        )
        == 1
    )
    handled = value(
        "portico_event_handle_duration_seconds_count", service=SERVICE, type="slo.violated"
    )
    assert handled - handled_before == 2, "only successful handlings are timed"

    async def lag() -> float:
        return value("portico_consumer_pending", service=SERVICE, consumer=durable)

    await infra.until(lag, lambda v: v == 0, what="no lag once everything is delivered")
