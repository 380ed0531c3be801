"""NATS subject permissions for each identity on the bus, built from the topology.

A service may publish only its own event subjects, its dead letters, the
JetStream API calls that read its own durable consumers, and those that read
and delete messages of the dead-letter stream (its DLQ API); it may receive only
on its own inbox prefix, on the subjects of the tenant state events
(suspended, resumed, ...), which every replica must hear, and on the event
subjects the topology says it watches live (rollout: its own rollout.*, for
the resolve view). Nothing else: a service cannot publish another's events,
create or widen a consumer, or touch the streams.
"""

from __future__ import annotations

from typing import Any

from portico_common.events.catalog import DLQ_PREFIX, DLQ_STREAM, STREAM, SUBJECT_PREFIX
from portico_common.events.topology import (
    TENANT_STATE_EVENTS,
    consumers_of,
    owned_prefixes,
    watches_of,
)

# The identity that creates streams and durable consumers (portico up, a Helm job).
PROVISIONER = "provisioner"
# Read-only watchers of every event (the demo's timeline, dashboards).
OBSERVER = "observer"


def inbox_prefix(identity: str) -> str:
    """Replies to an identity's requests arrive under this prefix, and only it may read it."""
    return f"_INBOX_{identity}"


def service_permissions(service: str) -> dict[str, Any]:
    """The `permissions` block of a service's NATS user."""
    publish = [f"{SUBJECT_PREFIX}{prefix}>" for prefix in owned_prefixes(service)]
    publish += [f"$JS.API.STREAM.INFO.{STREAM}", f"$JS.API.STREAM.INFO.{DLQ_STREAM}"]
    if consumers_of(service):
        # The DLQ API reads and removes the service's dead letters. NATS grants
        # these per stream, not per subject: the service itself shows and
        # touches only its own durables' letters (events.dead_letters).
        publish += [
            f"$JS.API.STREAM.MSG.GET.{DLQ_STREAM}",
            f"$JS.API.STREAM.MSG.DELETE.{DLQ_STREAM}",
        ]
    for durable in consumers_of(service):
        publish += [
            f"$JS.API.CONSUMER.INFO.{STREAM}.{durable}",
            f"$JS.API.CONSUMER.MSG.NEXT.{STREAM}.{durable}",
            f"$JS.ACK.{STREAM}.{durable}.>",
            f"{DLQ_PREFIX}{durable}.>",
        ]
    # Every replica hears the lifecycle events as they are published (core
    # NATS): only these subjects, which say no more than a tenant's state.
    states = [f"{SUBJECT_PREFIX}{event_type}" for event_type in TENANT_STATE_EVENTS]
    subscribe = [f"{inbox_prefix(service)}.>", *states]
    subscribe += [f"{SUBJECT_PREFIX}{prefix}>" for prefix in watches_of(service)]
    return {
        "publish": {"allow": publish},
        "subscribe": {"allow": subscribe},
    }


def observer_permissions() -> dict[str, Any]:
    """Subscribes to every event as it is published; publishes nothing."""
    return {
        "publish": {"deny": [">"]},
        "subscribe": {"allow": [f"{SUBJECT_PREFIX}>", f"{inbox_prefix(OBSERVER)}.>"]},
    }


def provisioner_permissions() -> dict[str, Any]:
    """Creates and reconciles the streams and the durable consumers; reads the DLQ."""
    return {
        "publish": {"allow": ["$JS.API.>"]},
        "subscribe": {"allow": [f"{inbox_prefix(PROVISIONER)}.>"]},
    }
