"""Creates the streams and every service's durable consumers, as the topology declares.

Run with an identity allowed to use the JetStream API (the provisioner):
`portico up` does it before starting the services, a Helm job does it in a
cluster (`python -m portico_common.events.provision`). Services connected
with their own credentials then only bind to what exists.
"""

from __future__ import annotations

import asyncio

from nats.js import JetStreamContext
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from portico_common.events.bus import StreamSettings, connect, ensure_streams
from portico_common.events.catalog import STREAM
from portico_common.events.consumer import consumer_config
from portico_common.events.nats_permissions import PROVISIONER, inbox_prefix
from portico_common.events.topology import CONSUMERS, check_topology
from portico_common.settings import NatsTlsSettings
from portico_common.tls import nats_ssl_context


async def provision(
    js: JetStreamContext,
    settings: StreamSettings | None = None,
    *,
    ack_wait_seconds: float = 30.0,
) -> list[str]:
    """Ensures the streams and every durable consumer; returns the durables' names."""
    check_topology()
    await ensure_streams(js, settings)
    created = []
    for durables in CONSUMERS.values():
        for durable, event_types in durables.items():
            config = consumer_config(durable, event_types, ack_wait_seconds)
            await js.add_consumer(STREAM, config)
            created.append(durable)
    return created


class ProvisionerSettings(NatsTlsSettings):
    """The provisioner's NATS connection, from PORTICO_* variables (TLS as the services')."""

    model_config = SettingsConfigDict(env_prefix="PORTICO_", extra="ignore")

    nats_url: str = "nats://127.0.0.1:4222"
    nats_nkey_seed: SecretStr = SecretStr("")
    nats_stream_replicas: int = 1
    # How long a fetched, unacknowledged message waits before it is delivered
    # again, for every durable consumer created here: after a service dies in
    # the middle of a handler, its event is retried this long after it was taken.
    event_ack_wait_seconds: float = Field(default=30.0, gt=0)


async def run(settings: ProvisionerSettings) -> list[str]:
    """Connects as the provisioner and provisions; returns the durables' names."""
    nc = await connect(
        settings.nats_url,
        "portico-provisioner",
        nkey_seed=settings.nats_nkey_seed.get_secret_value(),
        inbox_prefix=inbox_prefix(PROVISIONER),
        tls=nats_ssl_context(settings),
        tls_handshake_first=settings.nats_tls_handshake_first,
    )
    try:
        replicas = StreamSettings(replicas=settings.nats_stream_replicas)
        return await provision(
            nc.jetstream(), replicas, ack_wait_seconds=settings.event_ack_wait_seconds
        )
    finally:
        await nc.close()


if __name__ == "__main__":
    asyncio.run(run(ProvisionerSettings()))
