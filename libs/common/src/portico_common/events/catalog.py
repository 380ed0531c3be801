"""Every domain event type Portico publishes, and the proto message it carries.

The CloudEvents `type` is the name below; the NATS subject is `portico.<type>`
(for example `portico.slo.violated`). The tenant travels in a header, so one
stream and a filter per event type serve every tenant.
"""

from __future__ import annotations

from google.protobuf.message import Message

from portico.events.v1 import events_pb2 as ev

EVENT_TYPES: dict[str, type[Message]] = {
    "tenant.created": ev.TenantCreated,
    "tenant.quota.updated": ev.TenantQuotaUpdated,
    "tenant.usage.updated": ev.TenantUsageUpdated,
    "tenant.reservation.expired": ev.TenantReservationExpired,
    # The tenant lifecycle (docs/tenancy-lifecycle.md): one type per transition.
    "tenant.activated": ev.TenantActivated,
    "tenant.suspended": ev.TenantSuspended,
    "tenant.resumed": ev.TenantResumed,
    "tenant.deletion_scheduled": ev.TenantDeletionScheduled,
    "tenant.deletion_cancelled": ev.TenantDeletionCancelled,
    "tenant.deletion_requested": ev.TenantDeletionRequested,
    "tenant.deleted": ev.TenantDeleted,
    "tenant.updated": ev.TenantUpdated,
    "tenant.moved": ev.TenantMoved,
    "plugin.artifact.verified": ev.ArtifactVerified,
    "plugin.artifact.rejected": ev.ArtifactRejected,
    "plugin.compat.checked": ev.CompatChecked,
    "plugin.install.requested": ev.InstallRequested,
    "plugin.install.approval_required": ev.InstallApprovalRequired,
    "plugin.install.approval_recorded": ev.InstallApprovalRecorded,
    "plugin.install.approved": ev.InstallApproved,
    "plugin.install.rejected": ev.InstallRejected,
    "plugin.install.expired": ev.InstallExpired,
    "plugin.install.escalated": ev.InstallEscalated,
    "plugin.install.uninstalled": ev.InstallUninstalled,
    "rollout.requested": ev.RolloutRequested,
    "rollout.started": ev.RolloutStarted,
    "rollout.phase.advanced": ev.RolloutPhaseAdvanced,
    "rollout.completed": ev.RolloutCompleted,
    "rollout.refused": ev.RolloutRefused,
    "rollout.install_declined": ev.RolloutInstallDeclined,
    "rollout.rolled_back": ev.RolloutRolledBack,
    "rollout.decision.recorded": ev.RolloutDecisionRecorded,
    "rollout.paused": ev.RolloutPaused,
    "rollout.resumed": ev.RolloutResumed,
    "slo.violated": ev.SloViolated,
    "slo.recovered": ev.SloRecovered,
    "slo.breaker.opened": ev.BreakerOpened,
    "slo.breaker.half_opened": ev.BreakerHalfOpened,
    "slo.breaker.closed": ev.BreakerClosed,
    "slo.breaker.forced_open": ev.BreakerForcedOpen,
    "slo.breaker.disabled": ev.BreakerDisabled,
    "slo.breaker.metrics_only": ev.BreakerMetricsOnly,
    "slo.breaker.thresholds_exceeded": ev.BreakerThresholdsExceeded,
}

_BY_MESSAGE: dict[str, str] = {cls.DESCRIPTOR.full_name: name for name, cls in EVENT_TYPES.items()}

SUBJECT_PREFIX = "portico."
DLQ_PREFIX = "portico-dlq."
STREAM = "PORTICO_EVENTS"
DLQ_STREAM = "PORTICO_DLQ"


def subject_for(event_type: str) -> str:
    """The NATS subject an event type is published on."""
    return SUBJECT_PREFIX + event_type


def type_of(message: Message) -> str:
    """The event type name of a payload message."""
    try:
        return _BY_MESSAGE[message.DESCRIPTOR.full_name]
    except KeyError:
        raise KeyError(f"{message.DESCRIPTOR.full_name} is not a registered event") from None
