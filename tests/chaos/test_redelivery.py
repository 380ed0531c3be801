"""A redelivery storm: every message delivered twice or more, every effect still once.

While a canary completes and the next one is rolled back, every durable
consumer's ack wait is cut to 100 ms, so whatever a service takes longer to
handle (a batch, a slow transaction) is delivered again while it is still
being handled. Then every durable is deleted and created again, as the
provisioner creates it: the whole stream (every tenant's events since the
suite started) is delivered once more to every consumer. Each consumer must
recognise every copy by its inbox: the tenant's books and effects are the
same before and after, and each service counted as duplicates at least as
many deliveries as its inboxes hold.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx
import pytest
from nats.js import JetStreamContext
from prometheus_client.parser import text_string_to_metric_families

from portico_common.events.catalog import STREAM
from portico_common.events.consumer import consumer_config
from portico_common.events.topology import CONSUMERS
from portico_embedded.testing.fixtures import unique_tenant

from .flows import audit, effects, prepared, rollback
from .report import Report
from .stack import CHAOS_ENV, Suite, books_of

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

STORM_ACK_WAIT_SECONDS = 0.01
ACK_WAIT_SECONDS = float(CHAOS_ENV["PORTICO_EVENT_ACK_WAIT_SECONDS"])


async def _configure(js: JetStreamContext, ack_wait: float, *, recreate: bool = False) -> None:
    """Every durable as the provisioner makes it, with `ack_wait`; `recreate`: from scratch."""
    for durables in CONSUMERS.values():
        for durable, event_types in durables.items():
            if recreate:
                await js.delete_consumer(STREAM, durable)
            await js.add_consumer(STREAM, consumer_config(durable, event_types, ack_wait))


async def _caught_up(js: JetStreamContext, within: float = 120.0) -> None:
    """Until every durable has handed out and had acknowledged every message it takes."""
    deadline = time.monotonic() + within
    while True:
        behind = {}
        for durables in CONSUMERS.values():
            for durable in durables:
                info = await js.consumer_info(STREAM, durable)
                if info.num_pending or info.num_ack_pending:
                    behind[durable] = (info.num_pending, info.num_ack_pending)
        if not behind:
            return
        assert time.monotonic() < deadline, f"consumers still behind: {behind}"
        await asyncio.sleep(0.2)


async def _consumed(suite: Suite, outcome: str) -> Counter[str]:
    """Per service, the events its consumers handled with `outcome`, from its /metrics."""
    found: Counter[str] = Counter()
    async with httpx.AsyncClient(timeout=10) as http:
        for name, service in suite.endpoints().services.items():
            text = (await http.get(service.metrics)).text
            for family in text_string_to_metric_families(text):
                if family.name != "portico_events_consumed":
                    continue
                for sample in family.samples:
                    if sample.name.endswith("_total") and sample.labels["outcome"] == outcome:
                        found[name] += int(sample.value)
    return found


async def _redelivered(suite: Suite) -> int:
    """Deliveries after the first (an ack wait run out) the services counted, all together."""
    total = 0
    async with httpx.AsyncClient(timeout=10) as http:
        for service in suite.endpoints().services.values():
            text = (await http.get(service.metrics)).text
            for family in text_string_to_metric_families(text):
                if family.name == "portico_events_redelivered":
                    total += sum(int(s.value) for s in family.samples if s.name.endswith("_total"))
    return total


async def nothing() -> None:
    """This flow is not disrupted by a kill: the storm is the disruption."""


async def test_every_message_delivered_twice_or_more_takes_effect_once(
    healthy: Suite, chaos_report: Report
) -> None:
    """A storm while the flows run, then the whole stream again: the books do not move."""
    suite = healthy
    tenant = unique_tenant()
    nc = await suite.nats()
    js = nc.jetstream()
    try:
        async with books_of(suite) as (ledger, admin):
            mark = await ledger.mark()
            started = time.monotonic()
            redelivered_before = await _redelivered(suite)
            await _configure(js, STORM_ACK_WAIT_SECONDS)
            try:
                portal = await prepared(suite, tenant)
                try:
                    expected = await rollback(portal, nothing, admin, canary_first=True)
                finally:
                    await portal.close()
                before = await audit(expected, ledger, mark, tenant, admin)
                stormed = await _redelivered(suite) - redelivered_before
                rows = await effects(admin, expected)
                inboxes = Counter(
                    {
                        service: await admin.fetchval(f"SELECT count(*) FROM {service}.inbox")  # noqa: S608 - our own schemas
                        for service in CONSUMERS
                    }
                )
                duplicates = await _consumed(suite, "duplicate")
                await _configure(js, STORM_ACK_WAIT_SECONDS, recreate=True)
                await _caught_up(js)
                replayed = await _consumed(suite, "duplicate") - duplicates
                after = await audit(expected, ledger, mark, tenant, admin)
            finally:
                await _configure(js, ACK_WAIT_SECONDS)
            assert after.events == before.events, "the replay made a service publish again"
            assert after.deliveries == before.deliveries
            assert await effects(admin, expected) == rows
            for service, recorded in inboxes.items():
                # Every delivery an inbox holds came again and was recognised as a copy.
                assert replayed[service] >= recorded, (service, replayed[service], recorded)
                left = await admin.fetchval(f"SELECT count(*) FROM {service}.inbox")  # noqa: S608 - our own schemas
                assert left == recorded, f"{service}'s inbox grew in the replay"
    finally:
        await nc.close()
    chaos_report.add(
        "canary + rollback, redelivery storm",
        time.monotonic() - started,
        f"{after.summary()}; {stormed} redelivered in the flow (ack wait"
        f" {STORM_ACK_WAIT_SECONDS * 1000:.0f} ms), then the whole stream again:"
        f" {replayed.total()} copies recognised for {inboxes.total()} inbox rows",
    )
