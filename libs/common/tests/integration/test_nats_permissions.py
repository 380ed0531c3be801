"""NATS with a user per service: who may publish what and read through which consumer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import nats
import nats.errors
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.errors import APIError

from portico.events.v1 import events_pb2 as ev
from portico_common.events.bus import check_streams, connect, publish
from portico_common.events.catalog import STREAM
from portico_common.events.consumer import ConsumerSettings, EventConsumer
from portico_common.events.envelope import Envelope
from portico_common.events.nats_permissions import OBSERVER, PROVISIONER, inbox_prefix
from portico_common.events.provision import provision
from portico_common.events.topology import CONSUMERS
from portico_common.tenant_status import RefusedTenants, TenantStatusWatcher
from portico_embedded.nats import NatsServer
from portico_embedded.nats_identities import NatsIdentity, suite_identities

pytestmark = pytest.mark.integration


@pytest.fixture
def identities() -> dict[str, NatsIdentity]:
    return suite_identities()


@pytest.fixture
def secured_nats(tmp_path: Path, identities: dict[str, NatsIdentity]) -> Iterator[NatsServer]:
    """A JetStream server that admits only the suite's nkey users."""
    users = [identity.user_entry() for identity in identities.values()]
    server = NatsServer(tmp_path / "nats", users=users).start()
    yield server
    server.stop()


async def _as(server: NatsServer, identity: NatsIdentity) -> NatsClient:
    return await connect(
        server.url,
        f"test-{identity.name}",
        nkey_seed=identity.seed,
        inbox_prefix=inbox_prefix(identity.name),
    )


@pytest.fixture
async def provisioned(secured_nats: NatsServer, identities: dict[str, NatsIdentity]) -> NatsServer:
    """The streams and every durable consumer, created by the provisioner."""
    nc = await _as(secured_nats, identities[PROVISIONER])
    await provision(nc.jetstream())
    await nc.close()
    return secured_nats


def _violation(slo: str = "slo-1") -> Envelope:
    payload = ev.SloViolated(tenant_id="acme", slo_id=slo, plugin="@acme/x", version="1.0.0")
    return Envelope.of(payload, source="portico/slo", tenant_id="acme")


async def test_a_client_without_credentials_is_refused(secured_nats: NatsServer) -> None:
    """Nobody reaches the bus anonymously."""
    with pytest.raises(nats.errors.Error, match=r"[Aa]uthorization"):
        await _connect_and_close(secured_nats.url)


async def test_a_service_publishes_its_own_events(
    provisioned: NatsServer, identities: dict[str, NatsIdentity]
) -> None:
    """slo's user may publish slo.violated, and JetStream stores it."""
    nc = await _as(provisioned, identities["slo"])
    try:
        ack = await publish(nc.jetstream(), _violation())
        assert ack.stream == STREAM
    finally:
        await nc.close()


async def test_a_service_cannot_publish_another_services_events(
    provisioned: NatsServer, identities: dict[str, NatsIdentity]
) -> None:
    """slo's user publishing rollout.started is refused; nothing reaches the stream."""
    slo = await _as(provisioned, identities["slo"])
    forged = Envelope.of(
        ev.RolloutCompleted(tenant_id="acme", rollout_id="r-1", plugin="@acme/x", version="1"),
        source="portico/rollout",
        tenant_id="acme",
    )
    try:
        with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
            await publish(slo.jetstream(), forged, wait_seconds=1.0)
    finally:
        await slo.close()
    admin = await _as(provisioned, identities[PROVISIONER])
    try:
        info = await admin.jetstream().stream_info(STREAM)
        assert info.state.messages == 0
    finally:
        await admin.close()


async def test_a_service_reads_only_through_its_own_consumers(
    provisioned: NatsServer, identities: dict[str, NatsIdentity]
) -> None:
    """rollout binds to rollout-slo and gets the violation; it cannot bind compat's consumer."""
    slo = await _as(provisioned, identities["slo"])
    await publish(slo.jetstream(), _violation())
    await slo.close()
    rollout = await _as(provisioned, identities["rollout"])
    try:
        js = rollout.jetstream()
        sub = await js.pull_subscribe_bind(durable="rollout-slo", stream=STREAM)
        [msg] = await sub.fetch(1, timeout=5)
        assert Envelope.decode(msg.headers, msg.data).type == "slo.violated"
        await msg.ack()
        with pytest.raises((APIError, nats.errors.TimeoutError, nats.errors.NoRespondersError)):
            await js.consumer_info(STREAM, "compat-tenancy", timeout=1)
    finally:
        await rollout.close()


async def test_a_service_cannot_create_or_widen_a_consumer(
    provisioned: NatsServer, identities: dict[str, NatsIdentity]
) -> None:
    """Only the provisioner decides what a durable reads; a service creating one is refused."""
    rollout = await _as(provisioned, identities["rollout"])
    consumer = EventConsumer(
        rollout.jetstream(),
        None,  # type: ignore[arg-type] # setup() never touches the database
        "rollout-slo",
        {"slo.violated": _noop, "rollout.completed": _noop},
        ConsumerSettings(create=True),
    )
    try:
        with pytest.raises((APIError, nats.errors.TimeoutError, nats.errors.NoRespondersError)):
            await consumer.setup()
    finally:
        await rollout.close()


async def test_a_provisioned_service_binds_without_creating(
    provisioned: NatsServer, identities: dict[str, NatsIdentity]
) -> None:
    """With create=False the service's consumer set-up is a bind its user is allowed."""
    rollout = await _as(provisioned, identities["rollout"])
    try:
        await check_streams(rollout.jetstream())
        for durable, types in CONSUMERS["rollout"].items():
            consumer = EventConsumer(
                rollout.jetstream(),
                None,  # type: ignore[arg-type] # setup() never touches the database
                durable,
                dict.fromkeys(types, _noop),
                ConsumerSettings(create=False),
            )
            await consumer.setup()
    finally:
        await rollout.close()


async def test_rollout_watches_its_own_events_live_and_nobody_else_can(
    provisioned: NatsServer, identities: dict[str, NatsIdentity]
) -> None:
    """Every rollout replica may follow portico.rollout.> on core NATS; compat may not."""
    rollout = await _as(provisioned, identities["rollout"])
    compat = await _as(provisioned, identities["compat"])
    try:
        watching = await rollout.subscribe("portico.rollout.>")
        snooping = await compat.subscribe("portico.rollout.>")
        event = Envelope.of(
            ev.RolloutCompleted(tenant_id="acme", rollout_id="r-1", plugin="@acme/x", version="1"),
            source="portico/rollout",
            tenant_id="acme",
        )
        await publish(rollout.jetstream(), event)
        msg = await watching.next_msg(timeout=5)
        assert Envelope.decode(msg.headers, msg.data).id == event.id
        with pytest.raises(nats.errors.TimeoutError):
            await snooping.next_msg(timeout=0.5)
    finally:
        await compat.close()
        await rollout.close()


async def test_the_observer_sees_events_and_publishes_nothing(
    provisioned: NatsServer, identities: dict[str, NatsIdentity]
) -> None:
    """The demo's timeline user receives every event but cannot put one on the bus."""
    observer = await _as(provisioned, identities[OBSERVER])
    seen = await observer.subscribe("portico.>")
    slo = await _as(provisioned, identities["slo"])
    try:
        await publish(slo.jetstream(), _violation())
        msg = await seen.next_msg(timeout=5)
        assert msg.subject == "portico.slo.violated"
        with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
            await publish(observer.jetstream(), _violation("slo-2"), wait_seconds=1.0)
    finally:
        await slo.close()
        await observer.close()


async def _connect_and_close(url: str) -> None:
    """Connects anonymously; a refused client is closed too, so its socket does not leak."""
    nc = NatsClient()
    try:
        await nc.connect(url, connect_timeout=2, allow_reconnect=False)
    finally:
        await nc.close()


async def _noop(*_: object) -> None:
    """A handler that is never called in these tests."""


async def test_every_replica_hears_a_suspension_through_its_own_permissions(
    provisioned: NatsServer, identities: dict[str, NatsIdentity]
) -> None:
    """Two slo connections each hear tenant.suspended (core NATS); slo.violated they cannot."""
    replicas = [await _as(provisioned, identities["slo"]) for _ in range(2)]
    sets = [RefusedTenants() for _ in replicas]
    watchers = [
        TenantStatusWatcher(refused, nc, None) for refused, nc in zip(sets, replicas, strict=True)
    ]
    for watcher in watchers:
        await watcher.subscribe()
    denied = await replicas[0].subscribe("portico.slo.violated")
    tenancy = await _as(provisioned, identities["tenancy"])
    try:
        await publish(
            tenancy.jetstream(),
            Envelope.of(
                ev.TenantSuspended(tenant_id="acme", state="suspended", reason="x"),
                source="portico/tenancy",
                tenant_id="acme",
            ),
        )
        for _ in range(100):
            if all(s.state_of("acme") == "suspended" for s in sets):
                break
            await asyncio.sleep(0.05)
        assert [s.state_of("acme") for s in sets] == ["suspended", "suspended"]
        with pytest.raises(nats.errors.TimeoutError):
            await denied.next_msg(timeout=0.5)
    finally:
        for nc in (*replicas, tenancy):
            await nc.close()
