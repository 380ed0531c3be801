"""Dashboard messages: an SLO's panel, a breaker's summary, an entry of the alert history."""

from __future__ import annotations

from collections.abc import Sequence

from portico.slo.v1 import slo_pb2 as pb
from portico_common.timestamps import to_timestamp
from portico_slo.app.budgets import Panel
from portico_slo.app.dashboard import AlertEntry, BreakerPanel
from portico_slo.entrypoints.grpc_mapping import budget_message, slo_message, violation_message


def breaker_summary(b: BreakerPanel) -> pb.BreakerSummary:
    return pb.BreakerSummary(
        breaker_id=b.breaker_id,
        plugin=b.plugin,
        version=b.version,
        state=b.state.value.lower(),
        since=to_timestamp(b.since),
        failure_rate=b.failure_rate,
        slow_call_rate=b.slow_call_rate,
    )


def alert_summary(a: AlertEntry) -> pb.AlertSummary:
    return pb.AlertSummary(
        alert_id=a.alert_id,
        tier=a.tier,
        state=a.status,
        receiver=a.receiver,
        at=to_timestamp(a.at),
        delivery=a.delivery,
        slo_id=a.slo_id,
        plugin=a.plugin,
        version=a.version,
        severity=a.severity,
        notification_id=a.notification_id,
        attempts=a.attempts,
    )


def panel_message(
    p: Panel, breakers: Sequence[BreakerPanel] = (), alerts: Sequence[AlertEntry] = ()
) -> pb.SloPanel:
    return pb.SloPanel(
        slo=slo_message(p.slo),
        budget=budget_message(p.budget),
        tiers=[
            pb.TierBurn(
                tier=t.tier.name,
                short_window_burn_rate=t.short_burn,
                long_window_burn_rate=t.long_burn,
                factor=t.tier.factor,
                severity=t.tier.severity.value,
            )
            for t in p.evaluation.tiers
        ],
        recent_violations=[violation_message(v) for v in p.violations],
        breakers=[breaker_summary(b) for b in breakers],
        alerts=[alert_summary(a) for a in alerts],
    )
