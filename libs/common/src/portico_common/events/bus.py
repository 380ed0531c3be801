"""The JetStream side of the event bus: connection, streams, publishing."""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass

import nats
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import PubAck, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from portico_common.errors import EventError
from portico_common.events.catalog import DLQ_PREFIX, DLQ_STREAM, STREAM, SUBJECT_PREFIX
from portico_common.events.envelope import Envelope

log = logging.getLogger(__name__)

DAY = 24 * 3600.0


@dataclass(frozen=True)
class StreamSettings:
    """Stream sizing; replicas=3 on a clustered JetStream."""

    replicas: int = 1
    max_age_seconds: float = 7 * DAY
    dlq_max_age_seconds: float = 30 * DAY
    # JetStream drops a second message with the same Nats-Msg-Id inside it.
    duplicate_window_seconds: float = 120.0


async def connect(
    url: str,
    name: str,
    *,
    nkey_seed: str = "",
    inbox_prefix: str = "",
    tls: ssl.SSLContext | None = None,
    tls_handshake_first: bool = True,
) -> NatsClient:
    """A connection that keeps reconnecting for as long as the process lives.

    `url` may list several servers, comma-separated (the members of a
    cluster): the first that answers is used, and the others (with those the
    cluster announces) are where a reconnect goes when it dies. With
    `nkey_seed` it authenticates as that NATS user; `inbox_prefix` is
    where replies reach it (its permissions let only it read there). With
    `tls` (`tls.nats_ssl_context`) it speaks TLS and checks the server's
    certificate. `tls_handshake_first` starts TLS before the server says a
    word: otherwise nats-py upgrades only when the server's INFO, sent in
    clear, asks for TLS, so whoever sits in between could strip the request
    and read our CONNECT (the nkey's signature of the nonce) in clear.
    """
    options: dict[str, object] = {}
    if nkey_seed:
        options["nkeys_seed_str"] = nkey_seed
    if inbox_prefix:
        options["inbox_prefix"] = inbox_prefix
    if tls is not None:
        options["tls"] = tls
        options["tls_handshake_first"] = tls_handshake_first
    return await nats.connect(
        servers=servers_of(url),
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.25,
        connect_timeout=5,
        allow_reconnect=True,
        **options,
    )


def servers_of(url: str) -> list[str]:
    """The server URLs of a `nats_url` setting: one, or several comma-separated."""
    servers = [part.strip() for part in url.split(",") if part.strip()]
    if not servers:
        raise EventError("no NATS server URL given")
    return servers


async def check_streams(js: JetStreamContext) -> None:
    """Fails with a clear message when the provisioner has not created the streams."""
    for name in (STREAM, DLQ_STREAM):
        try:
            await js.stream_info(name)
        except NotFoundError:
            raise EventError(
                f"JetStream stream {name} does not exist; this service only binds to"
                " provisioned streams (run the provisioner: portico up does)"
            ) from None


async def ensure_streams(js: JetStreamContext, settings: StreamSettings | None = None) -> None:
    """Creates (or reconciles) the event stream and the dead-letter stream."""
    settings = settings or StreamSettings()
    await _ensure(
        js,
        StreamConfig(
            name=STREAM,
            subjects=[SUBJECT_PREFIX + ">"],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            num_replicas=settings.replicas,
            max_age=settings.max_age_seconds,
            duplicate_window=settings.duplicate_window_seconds,
        ),
    )
    await _ensure(
        js,
        StreamConfig(
            name=DLQ_STREAM,
            subjects=[DLQ_PREFIX + ">"],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            num_replicas=settings.replicas,
            max_age=settings.dlq_max_age_seconds,
        ),
    )


async def _ensure(js: JetStreamContext, config: StreamConfig) -> None:
    try:
        await js.add_stream(config)
    except BadRequestError:
        # Exists with another configuration: bring it in line with ours.
        await js.update_stream(config)


async def publish(js: JetStreamContext, envelope: Envelope, wait_seconds: float = 5.0) -> PubAck:
    """Publishes and waits for the stream's ack (a duplicate id is acked too)."""
    return await js.publish(
        envelope.nats_subject, envelope.body(), timeout=wait_seconds, headers=envelope.headers()
    )
