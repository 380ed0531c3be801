"""The DLQ API on real NATS and PostgreSQL: list, inspect, redrive, discard, audited and guarded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
import pytest
from nats.js import JetStreamContext
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from portico.events.v1 import events_pb2 as ev
from portico.ops.v1 import dead_letters_pb2 as pb
from portico.ops.v1 import dead_letters_pb2_grpc as pb_grpc
from portico_common.clock import ManualClock
from portico_common.db import ALL_TENANTS, Connection, Database
from portico_common.events.bus import connect
from portico_common.events.catalog import DLQ_STREAM
from portico_common.events.consumer import Subscription
from portico_common.events.envelope import Envelope
from portico_common.grpc.tokens import TokenVerifier
from portico_common.runtime import Runtime, serve
from portico_common.settings import ServiceSettings
from portico_gateway.app import create_app

pytestmark = pytest.mark.integration

SCHEMA = "kerneltest"
DURABLE = "kerneltest-dlq"


@dataclass
class Dlq:
    """A kernel service whose one consumer fails while `broken`, and a client of its DLQ API."""

    api: pb_grpc.DeadLetterServiceStub
    js: JetStreamContext
    db: Database
    target: str
    state: dict[str, bool]

    async def letters(self) -> int:
        info = await self.js.stream_info(DLQ_STREAM)
        return int(info.state.messages)

    async def effects(self) -> list[str]:
        async with self.db.transaction(ALL_TENANTS) as conn:
            rows = await conn.fetch("SELECT note FROM effects ORDER BY note")
        return [r["note"] for r in rows]

    async def audit(self) -> list[tuple[str, str, str, str]]:
        async with self.db.transaction(ALL_TENANTS) as conn:
            rows = await conn.fetch(
                "SELECT action, actor, reason, outcome FROM dead_letter_actions ORDER BY id"
            )
        return [(r["action"], r["actor"], r["reason"], r["outcome"]) for r in rows]


async def until(probe: Callable[[], Any], within: float = 20.0) -> None:
    async with asyncio.timeout(within):
        # JetStream state has no change notification to wait on.
        while not await probe():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


def violated(tenant: str, slo: str) -> Envelope:
    payload = ev.SloViolated(tenant_id=tenant, slo_id=slo, plugin="@acme/cost", version="2.3.0")
    return Envelope.of(payload, source="portico/slo", tenant_id=tenant)


@asynccontextmanager
async def dlq_service(
    dsn: str, nats_url: str, verifier: TokenVerifier | None = None
) -> AsyncIterator[Dlq]:
    """The kernel's serve() with one failing-while-broken consumer, max_deliver 2."""
    settings = ServiceSettings(
        nats_url=nats_url,
        database_url=SecretStr(dsn),
        grpc_port=0,
        metrics_port=-1,
        shutdown_grace_seconds=1.0,
        outbox_poll_seconds=0.2,
        max_deliver=2,
        retention_interval_seconds=0,
        unsafe_no_auth=verifier is None,
    )
    rt = await Runtime.start(SCHEMA, settings, None, clock=ManualClock())
    state = {"broken": True}

    async def on_violated(envelope: Envelope, conn: Connection) -> None:
        if state["broken"]:
            raise RuntimeError("the handler is broken")
        await conn.execute(
            "INSERT INTO effects (tenant_id, event_id, note) VALUES ($1, $2, $3)",
            envelope.tenant_id,
            envelope.id,
            envelope.payload.slo_id,  # type: ignore[attr-defined]
        )

    stop = asyncio.Event()
    ports: asyncio.Queue[int] = asyncio.Queue()
    task = asyncio.create_task(
        serve(
            rt,
            subscriptions=[Subscription(DURABLE, {"slo.violated": on_violated})],
            verifier=verifier,
            ready=ports.put_nowait,
            stop=stop,
        )
    )
    port = await asyncio.wait_for(ports.get(), 20)
    nc = await connect(nats_url, "dlq-tests")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield Dlq(
                pb_grpc.DeadLetterServiceStub(channel),
                nc.jetstream(),
                rt.db,
                f"127.0.0.1:{port}",
                state,
            )
    finally:
        await nc.close()
        stop.set()
        await asyncio.wait_for(task, 20)


@pytest.fixture
async def dlq(dsn: str, nats_url: str) -> AsyncIterator[Dlq]:
    async with dlq_service(dsn, nats_url) as service:
        yield service


async def park(dlq: Dlq) -> list[Envelope]:
    """Three events the broken handler gives up on, and one undecodable message."""
    events = [violated("acme", "slo-a"), violated("acme", "slo-b"), violated("globex", "slo-c")]
    for envelope in events:
        await dlq.js.publish(envelope.nats_subject, envelope.body(), headers=envelope.headers())
    await dlq.js.publish("portico.slo.violated", b"junk", headers={"ce-type": "slo.violated"})

    async def parked() -> bool:
        return await dlq.letters() == 4

    await until(parked)
    return events


async def test_dead_letters_are_listed_with_their_reason_and_inspected(dlq: Dlq) -> None:
    """Each letter shows its consumer, kind, event, tenant and reason; paging and filters work."""
    events = await park(dlq)
    listed = await dlq.api.ListDeadLetters(pb.ListDeadLettersRequest())
    assert len(listed.dead_letters) == 4
    by_id = {d.event_id: d for d in listed.dead_letters}
    first = by_id[events[0].id]
    assert first.consumer == DURABLE
    assert (first.kind, first.event_type, first.event_tenant) == (
        "slo.violated",
        "slo.violated",
        "acme",
    )
    assert first.reason == "RuntimeError: the handler is broken"
    assert first.deliveries == 2
    assert first.original_subject == "portico.slo.violated"
    assert first.dead_lettered_at.seconds > 0
    assert [d.kind for d in listed.dead_letters].count("undecodable") == 1

    typed = await dlq.api.ListDeadLetters(pb.ListDeadLettersRequest(event_type="slo.violated"))
    assert {d.event_id for d in typed.dead_letters} == {e.id for e in events}
    page = await dlq.api.ListDeadLetters(pb.ListDeadLettersRequest(page_size=3))
    rest = await dlq.api.ListDeadLetters(pb.ListDeadLettersRequest(page_token=page.next_page_token))
    assert len(page.dead_letters) == 3
    assert [d.sequence for d in [*page.dead_letters, *rest.dead_letters]] == [
        d.sequence for d in listed.dead_letters
    ]
    assert rest.next_page_token == ""

    got = await dlq.api.GetDeadLetter(pb.GetDeadLetterRequest(sequence=first.sequence))
    assert got.dead_letter == first
    assert got.headers["ce-id"] == events[0].id
    assert '"sloId": "slo-a"' in got.payload_json
    assert Envelope.decode(dict(got.headers), got.payload) == events[0]


async def test_redrive_after_a_fix_applies_once_and_empties_the_queue(dlq: Dlq) -> None:
    """Still broken, a redrive fails and the letter stays; fixed, one and then a batch apply.

    The undecodable letter cannot be redriven; it is discarded with a reason.
    Every action is in the audit with its outcome.
    """
    events = await park(dlq)
    listed = (await dlq.api.ListDeadLetters(pb.ListDeadLettersRequest())).dead_letters
    sequence = {d.event_id: d.sequence for d in listed}
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await dlq.api.RedriveDeadLetter(
            pb.RedriveDeadLetterRequest(sequence=sequence[events[0].id], reason="try")
        )
    assert failed.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "the handler is broken" in (failed.value.details() or "")
    assert await dlq.letters() == 4

    dlq.state["broken"] = False
    one = await dlq.api.RedriveDeadLetter(
        pb.RedriveDeadLetterRequest(sequence=sequence[events[0].id], reason="fixed")
    )
    assert one.outcome == "applied"
    assert await dlq.effects() == ["slo-a"]
    batch = await dlq.api.RedriveDeadLetters(
        pb.RedriveDeadLettersRequest(event_type="slo.violated", reason="fixed")
    )
    assert (batch.redriven, list(batch.failures)) == (2, [])
    assert await dlq.effects() == ["slo-a", "slo-b", "slo-c"]

    [junk] = (await dlq.api.ListDeadLetters(pb.ListDeadLettersRequest())).dead_letters
    assert junk.kind == "undecodable"
    everything = await dlq.api.RedriveDeadLetters(pb.RedriveDeadLettersRequest(reason="all"))
    assert everything.redriven == 0
    assert [f.sequence for f in everything.failures] == [junk.sequence]
    with pytest.raises(grpc.aio.AioRpcError) as unexplained:
        await dlq.api.DiscardDeadLetter(pb.DiscardDeadLetterRequest(sequence=junk.sequence))
    assert unexplained.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    await dlq.api.DiscardDeadLetter(
        pb.DiscardDeadLetterRequest(sequence=junk.sequence, reason="garbage from a test")
    )
    assert await dlq.letters() == 0
    assert await dlq.effects() == ["slo-a", "slo-b", "slo-c"], "nothing applied twice"

    audit = await dlq.audit()
    assert audit[0][0:3] == ("redrive", "unauthenticated", "try")
    assert audit[0][3].startswith("failed: RuntimeError: the handler is broken")
    assert audit[1:4] == [("redrive", "unauthenticated", "fixed", "applied")] * 3
    assert audit[4][3].startswith("failed: EventError")
    assert audit[5] == ("discard", "unauthenticated", "garbage from a test", "discarded")
    listed_actions = await dlq.api.ListDeadLetterActions(pb.ListDeadLetterActionsRequest())
    assert [(a.action, a.actor, a.reason, a.outcome) for a in listed_actions.actions] == audit


async def test_the_audit_of_redrives_and_discards_is_listed_filtered_and_paged(dlq: Dlq) -> None:
    """ListDeadLetterActions shows each action with its letter; filters and pages narrow it."""
    events = await park(dlq)
    listed = (await dlq.api.ListDeadLetters(pb.ListDeadLettersRequest())).dead_letters
    sequence = {d.event_id: d.sequence for d in listed}
    dlq.state["broken"] = False
    for envelope in events[:2]:
        await dlq.api.RedriveDeadLetter(
            pb.RedriveDeadLetterRequest(sequence=sequence[envelope.id], reason="fixed")
        )
    await dlq.api.DiscardDeadLetter(
        pb.DiscardDeadLetterRequest(sequence=sequence[events[2].id], reason="never")
    )
    everything = await dlq.api.ListDeadLetterActions(pb.ListDeadLetterActionsRequest())
    assert [(a.action, a.event_id, a.outcome) for a in everything.actions] == [
        ("redrive", events[0].id, "applied"),
        ("redrive", events[1].id, "applied"),
        ("discard", events[2].id, "discarded"),
    ]
    first = everything.actions[0]
    assert (first.consumer, first.sequence, first.event_type, first.event_tenant) == (
        DURABLE,
        sequence[events[0].id],
        "slo.violated",
        "acme",
    )
    assert (first.actor, first.reason) == ("unauthenticated", "fixed")
    assert first.acted_at.seconds > 0
    assert everything.next_page_token == ""

    discards = await dlq.api.ListDeadLetterActions(
        pb.ListDeadLetterActionsRequest(action="discard")
    )
    assert [a.event_id for a in discards.actions] == [events[2].id]
    one_event = await dlq.api.ListDeadLetterActions(
        pb.ListDeadLetterActionsRequest(event_id=events[1].id)
    )
    assert [a.event_id for a in one_event.actions] == [events[1].id]
    other = await dlq.api.ListDeadLetterActions(
        pb.ListDeadLetterActionsRequest(consumer="gone-since", event_type="slo.violated")
    )
    assert list(other.actions) == []
    page = await dlq.api.ListDeadLetterActions(pb.ListDeadLetterActionsRequest(page_size=2))
    rest = await dlq.api.ListDeadLetterActions(
        pb.ListDeadLetterActionsRequest(page_size=2, page_token=page.next_page_token)
    )
    assert [a.id for a in [*page.actions, *rest.actions]] == [a.id for a in everything.actions]
    assert rest.next_page_token == ""

    for bad in (
        pb.ListDeadLetterActionsRequest(action="replay"),
        pb.ListDeadLetterActionsRequest(page_size=501),
        pb.ListDeadLetterActionsRequest(page_token="abc"),
        pb.ListDeadLetterActionsRequest(page_token="-1"),
        pb.ListDeadLetterActionsRequest(service="rollout"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await dlq.api.ListDeadLetterActions(bad)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, bad
    assert await dlq.audit() == [
        (a.action, a.actor, a.reason, a.outcome) for a in everything.actions
    ]


async def test_another_services_letters_are_not_shown(dlq: Dlq) -> None:
    """A letter on another durable's subject is NOT_FOUND here, and never listed."""
    ack = await dlq.js.publish("portico-dlq.someone-else.slo.violated", b"x")
    with pytest.raises(grpc.aio.AioRpcError) as hidden:
        await dlq.api.GetDeadLetter(pb.GetDeadLetterRequest(sequence=ack.seq))
    assert hidden.value.code() == grpc.StatusCode.NOT_FOUND
    listed = await dlq.api.ListDeadLetters(pb.ListDeadLettersRequest())
    assert list(listed.dead_letters) == []
    with pytest.raises(grpc.aio.AioRpcError) as foreign:
        await dlq.api.ListDeadLetters(pb.ListDeadLettersRequest(consumer="someone-else"))
    assert foreign.value.code() == grpc.StatusCode.NOT_FOUND


async def test_the_gateway_reaches_each_services_dead_letters(dlq: Dlq) -> None:
    """GET /v1/services/slo/dead-letters goes to slo's DeadLetterService, as JSON."""
    events = await park(dlq)
    app = create_app({"slo": dlq.target}, registry=CollectorRegistry())
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http,
    ):
        listed = await http.get(
            "/v1/services/slo/dead-letters", params={"eventType": "slo.violated"}
        )
        assert listed.status_code == 200, listed.text
        letters = listed.json()["deadLetters"]
        assert {d["eventId"] for d in letters} == {e.id for e in events}
        dlq.state["broken"] = False
        redriven = await http.post(
            f"/v1/services/slo/dead-letters/{letters[0]['sequence']}:redrive",
            json={"reason": "fixed"},
        )
        assert redriven.status_code == 200, redriven.text
        assert redriven.json()["outcome"] == "applied"
        missing = await http.get("/v1/services/slo/dead-letters/999999")
        assert missing.status_code == 404
        audit = await http.get(
            "/v1/services/slo/dead-letters/actions", params={"action": "redrive", "pageSize": 10}
        )
        assert audit.status_code == 200, audit.text
        [action] = audit.json()["actions"]
        assert (action["action"], action["sequence"], action["eventId"], action["outcome"]) == (
            "redrive",
            letters[0]["sequence"],
            letters[0]["eventId"],
            "applied",
        )
        bad = await http.get("/v1/services/slo/dead-letters/actions", params={"action": "x"})
        assert bad.status_code == 400, bad.text


async def test_only_a_platform_role_may_touch_dead_letters(
    dsn: str, nats_url: str, token: Callable[..., str], key_jwks: Any
) -> None:
    """A tenant admin is refused every DLQ call; a platform admin is served and audited by name."""
    async with dlq_service(dsn, nats_url, TokenVerifier(key_jwks)) as dlq:
        await park(dlq)
        tenant_admin = [("authorization", f"Bearer {token('acme', roles=('tenant-admin',))}")]
        for call in (
            dlq.api.ListDeadLetters(pb.ListDeadLettersRequest(), metadata=tenant_admin),
            dlq.api.DiscardDeadLetter(
                pb.DiscardDeadLetterRequest(sequence=1, reason="x"), metadata=tenant_admin
            ),
            dlq.api.ListDeadLetterActions(pb.ListDeadLetterActionsRequest(), metadata=tenant_admin),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        operator = [("authorization", f"Bearer {token('acme', subject='user:ops')}")]
        listed = await dlq.api.ListDeadLetters(pb.ListDeadLettersRequest(), metadata=operator)
        await dlq.api.DiscardDeadLetter(
            pb.DiscardDeadLetterRequest(sequence=listed.dead_letters[0].sequence, reason="x"),
            metadata=operator,
        )
        assert await dlq.audit() == [("discard", "user:ops", "x", "discarded")]
        audited = await dlq.api.ListDeadLetterActions(
            pb.ListDeadLetterActionsRequest(), metadata=operator
        )
        assert [(a.action, a.actor) for a in audited.actions] == [("discard", "user:ops")]
