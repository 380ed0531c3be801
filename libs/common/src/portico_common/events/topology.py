"""Who publishes and who consumes what on the bus.

The map NATS permissions are built from: each service publishes only the
event types it owns, and reads only through its own durable consumers, whose
event types are fixed here. With authentication on, the consumers are
created from this map by a provisioner (so a service cannot widen what it
reads); services only bind to them. A suite-wide test checks that every
service subscribes exactly as declared here.
"""

from __future__ import annotations

from collections.abc import Mapping

from portico_common.events.catalog import EVENT_TYPES

# Asks every service holding a tenant's data to delete it (the deletion saga).
TENANT_DELETION_REQUESTED = "tenant.deletion_requested"

# Event type prefix -> the service that owns (alone publishes) those types.
OWNERS: Mapping[str, str] = {
    "tenant.": "tenancy",
    "plugin.artifact.": "security",
    "plugin.install.": "security",
    "plugin.compat.": "compat",
    "rollout.": "rollout",
    "slo.": "slo",
}

# Service -> durable consumer -> the event types it reads.
CONSUMERS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "rollout": {
        "rollout-checks": (
            "plugin.artifact.verified",
            "plugin.artifact.rejected",
            "plugin.compat.checked",
        ),
        # What makes a rollback: an SLO violation, or a plugin version's breaker opening.
        "rollout-slo": ("slo.violated", "slo.breaker.opened"),
        "rollout-installs": ("plugin.install.approved",),
        # A suspended (or deleting) tenant's rollouts pause until it is active again.
        "rollout-tenant-states": (
            "tenant.suspended",
            "tenant.resumed",
            "tenant.deletion_scheduled",
            "tenant.deletion_cancelled",
        ),
        "rollout-tenant-deletion": (TENANT_DELETION_REQUESTED,),
    },
    "compat": {
        "compat-tenancy": ("tenant.quota.updated", "tenant.usage.updated"),
        "compat-tenant-deletion": (TENANT_DELETION_REQUESTED,),
    },
    "slo": {
        # slo's own violations and recoveries, turned into alerts and routed to people.
        "slo-alerting": ("slo.violated", "slo.recovered"),
        "slo-tenant-deletion": (TENANT_DELETION_REQUESTED,),
    },
    "security": {
        "security-tenant-deletion": (TENANT_DELETION_REQUESTED,),
    },
    "tenancy": {
        # Install and rollout outcomes settle quota reservations (usage is derived from
        # them); the records of an install request or a rollout confirm their holds.
        "tenancy-usage": (
            "plugin.install.requested",
            "rollout.requested",
            "plugin.install.rejected",
            "plugin.install.expired",
            "plugin.install.uninstalled",
            "rollout.install_declined",
            "rollout.completed",
            "rollout.refused",
            "rollout.rolled_back",
        ),
    },
    "auth": {
        "auth-tenant-deletion": (TENANT_DELETION_REQUESTED,),
    },
}

# The tenant lifecycle's events every service process hears as they are published
# (a core NATS subscription, not a durable consumer: every replica must hear
# each one), to refuse a suspended tenant's tokens within seconds.
TENANT_STATE_EVENTS = (
    "tenant.suspended",
    "tenant.resumed",
    "tenant.deletion_scheduled",
    "tenant.deletion_cancelled",
    "tenant.deleted",
)

# Service -> event type prefixes it follows live with a core NATS subscription:
# no durable, no replay, every replica receives every event. For in-memory views
# that read the state back from the service's own database on each event, and
# whole after a reconnect (rollout's resolve view follows its own rollout.*).
WATCHES: Mapping[str, tuple[str, ...]] = {
    "rollout": ("rollout.",),
}

SERVICES = ("auth", "tenancy", "security", "compat", "rollout", "slo")


def owner_of(event_type: str) -> str:
    """The service that alone may publish `event_type`."""
    for prefix, service in OWNERS.items():
        if event_type.startswith(prefix):
            return service
    raise KeyError(f"no service owns event type {event_type!r}")


def source_of(service: str) -> str:
    """The CloudEvents `source` a service stamps on its events."""
    return f"portico/{service}"


def owner_source(event_type: str) -> str:
    """The only `source` consumers accept for `event_type` (tests publish as the owner)."""
    return source_of(owner_of(event_type))


def owned_prefixes(service: str) -> list[str]:
    return [prefix for prefix, owner in OWNERS.items() if owner == service]


def consumers_of(service: str) -> Mapping[str, tuple[str, ...]]:
    return CONSUMERS.get(service, {})


def tenant_data_services() -> tuple[str, ...]:
    """The services the deletion saga waits for: each reads tenant.deletion_requested."""
    return tuple(
        service
        for service in SERVICES
        if any(TENANT_DELETION_REQUESTED in types for types in consumers_of(service).values())
    )


def tenant_deletion_durable(service: str) -> str:
    """The durable consumer through which `service` hears tenant.deletion_requested."""
    return f"{service}-tenant-deletion"


def watches_of(service: str) -> tuple[str, ...]:
    return WATCHES.get(service, ())


def check_topology() -> None:
    """Every event type has one owner and every consumed type exists (a start-up guard)."""
    for event_type in EVENT_TYPES:
        owner_of(event_type)
    for durables in CONSUMERS.values():
        for types in durables.values():
            unknown = [t for t in types if t not in EVENT_TYPES]
            if unknown:
                raise KeyError(f"consumed event types {unknown} are not in the catalog")
    for prefixes in WATCHES.values():
        for prefix in prefixes:
            if not any(event_type.startswith(prefix) for event_type in EVENT_TYPES):
                raise KeyError(f"watched prefix {prefix!r} names no event type in the catalog")
