"""Protobuf messages of alerting.proto to domain values and back: the RPC edge."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta

from google.protobuf.duration_pb2 import Duration

from portico.slo.v1 import alerting_pb2 as pb
from portico_common.timestamps import optional_timestamp, to_timestamp
from portico_slo.alerting.app.ports import HistoryEntry, RoutingRecord
from portico_slo.alerting.app.queries import AlertState, AlertView
from portico_slo.alerting.domain.alerts import AlertStatus
from portico_slo.alerting.domain.channels import Channel, ChannelKind
from portico_slo.alerting.domain.inhibition import InhibitRule
from portico_slo.alerting.domain.labels import Matcher, MatchType
from portico_slo.alerting.domain.notifications import Delivery, DeliveryState
from portico_slo.alerting.domain.routing import RouteConfig
from portico_slo.alerting.domain.silences import Silence, SilenceState
from portico_slo.alerting.errors import InvalidChannelError, InvalidMatcherError

_OPERATORS = {
    pb.MATCH_OPERATOR_EQUAL: MatchType.EQUAL,
    pb.MATCH_OPERATOR_NOT_EQUAL: MatchType.NOT_EQUAL,
    pb.MATCH_OPERATOR_REGEX: MatchType.REGEX,
    pb.MATCH_OPERATOR_NOT_REGEX: MatchType.NOT_REGEX,
}
_OPERATOR_PB = {v: k for k, v in _OPERATORS.items()}
_KINDS = {
    ChannelKind.SLACK: pb.CHANNEL_KIND_SLACK,
    ChannelKind.EMAIL: pb.CHANNEL_KIND_EMAIL,
    ChannelKind.PAGERDUTY: pb.CHANNEL_KIND_PAGERDUTY,
    ChannelKind.WEBHOOK: pb.CHANNEL_KIND_WEBHOOK,
    ChannelKind.ALERTMANAGER: pb.CHANNEL_KIND_ALERTMANAGER,
}
SILENCE_STATES = {
    SilenceState.PENDING: pb.SILENCE_STATE_PENDING,
    SilenceState.ACTIVE: pb.SILENCE_STATE_ACTIVE,
    SilenceState.EXPIRED: pb.SILENCE_STATE_EXPIRED,
}
SILENCE_STATES_IN = {v: k for k, v in SILENCE_STATES.items()}
_ALERT_STATES = {
    AlertState.ACTIVE: pb.ALERT_STATE_ACTIVE,
    AlertState.SUPPRESSED: pb.ALERT_STATE_SUPPRESSED,
    AlertState.RESOLVED: pb.ALERT_STATE_RESOLVED,
}
_STATUSES = {
    AlertStatus.FIRING: pb.ALERT_STATUS_FIRING,
    AlertStatus.RESOLVED: pb.ALERT_STATUS_RESOLVED,
}
_DELIVERY_STATES = {
    DeliveryState.PENDING: pb.DELIVERY_STATE_PENDING,
    DeliveryState.SENDING: pb.DELIVERY_STATE_SENDING,
    DeliveryState.DELIVERED: pb.DELIVERY_STATE_DELIVERED,
    DeliveryState.FAILED: pb.DELIVERY_STATE_FAILED,
    DeliveryState.DROPPED: pb.DELIVERY_STATE_DROPPED,
}


def matcher_of(message: pb.Matcher, field: str = "matchers") -> Matcher:
    operator = _OPERATORS.get(message.operator)
    if operator is None:
        raise InvalidMatcherError(f"{field}.operator", f"{message.name}: choose an operator")
    return Matcher(message.name, operator, message.value)


def matchers_of(messages: Iterable[pb.Matcher], field: str = "matchers") -> tuple[Matcher, ...]:
    return tuple(matcher_of(m, field) for m in messages)


def matcher_to_proto(matcher: Matcher) -> pb.Matcher:
    return pb.Matcher(name=matcher.name, operator=_OPERATOR_PB[matcher.type], value=matcher.value)


def _duration(present: bool, value: Duration) -> timedelta | None:
    return value.ToTimedelta() if present else None


def route_of(message: pb.Route) -> RouteConfig:
    return RouteConfig(
        receiver=message.receiver,
        matchers=matchers_of(message.matchers, "route.matchers"),
        group_by=tuple(message.group_by.labels) if message.HasField("group_by") else None,
        group_wait=_duration(message.HasField("group_wait"), message.group_wait),
        group_interval=_duration(message.HasField("group_interval"), message.group_interval),
        repeat_interval=_duration(message.HasField("repeat_interval"), message.repeat_interval),
        continue_matching=message.continue_matching,
        routes=tuple(route_of(r) for r in message.routes),
    )


def _duration_pb(value: timedelta | None) -> Duration | None:
    if value is None:
        return None
    duration = Duration()
    duration.FromTimedelta(value)
    return duration


def route_to_proto(route: RouteConfig) -> pb.Route:
    return pb.Route(
        receiver=route.receiver,
        matchers=[matcher_to_proto(m) for m in route.matchers],
        group_by=None if route.group_by is None else pb.GroupBy(labels=list(route.group_by)),
        group_wait=_duration_pb(route.group_wait),
        group_interval=_duration_pb(route.group_interval),
        repeat_interval=_duration_pb(route.repeat_interval),
        continue_matching=route.continue_matching,
        routes=[route_to_proto(r) for r in route.routes],
    )


def rule_of(message: pb.InhibitRule) -> InhibitRule:
    return InhibitRule(
        source_matchers=matchers_of(message.source_matchers, "inhibit_rules.source_matchers"),
        target_matchers=matchers_of(message.target_matchers, "inhibit_rules.target_matchers"),
        equal=tuple(message.equal),
    )


def routing_to_proto(record: RoutingRecord) -> pb.RoutingTree:
    return pb.RoutingTree(
        tenant_id=record.tenant_id,
        route=route_to_proto(record.root),
        inhibit_rules=[
            pb.InhibitRule(
                source_matchers=[matcher_to_proto(m) for m in r.source_matchers],
                target_matchers=[matcher_to_proto(m) for m in r.target_matchers],
                equal=list(r.equal),
            )
            for r in record.inhibit_rules
        ],
        default_inhibition_disabled=record.default_inhibition_disabled,
        updated_at=to_timestamp(record.updated_at),
        updated_by=record.updated_by,
    )


ChannelConfig = tuple[ChannelKind, dict[str, str], dict[str, str]]


def channel_config(
    request: pb.CreateChannelRequest | pb.UpdateChannelRequest,
) -> ChannelConfig | None:
    """(kind, settings, secrets) of the request's config; None when it has none."""
    which = request.WhichOneof("config")
    if which == "slack":
        return ChannelKind.SLACK, {}, {"webhook_url": request.slack.webhook_url}
    if which == "email":
        e = request.email
        settings = {"to": e.to, "from": getattr(e, "from"), "host": e.host}
        settings |= {"port": str(e.port) if e.port else "", "tls": e.tls, "username": e.username}
        return ChannelKind.EMAIL, settings, {"password": e.password}
    if which == "pagerduty":
        p = request.pagerduty
        return ChannelKind.PAGERDUTY, {"url": p.url}, {"routing_key": p.routing_key}
    if which == "webhook":
        w = request.webhook
        return ChannelKind.WEBHOOK, {}, {"url": w.url, "signing_secret": w.signing_secret}
    if which == "alertmanager":
        return ChannelKind.ALERTMANAGER, {}, {"url": request.alertmanager.url}
    return None


def require_config(request: pb.CreateChannelRequest) -> ChannelConfig:
    config = channel_config(request)
    if config is None:
        kinds = ", ".join(k.value for k in ChannelKind)
        raise InvalidChannelError("config", f"give the settings of one kind: {kinds}")
    return config


def _public(kind: ChannelKind, settings: Mapping[str, str]) -> dict[str, object]:
    # Only the public settings: the secret fields of each config stay empty.
    if kind is ChannelKind.SLACK:
        return {"slack": pb.SlackConfig()}
    if kind is ChannelKind.EMAIL:
        email = pb.EmailConfig(
            to=settings.get("to", ""),
            host=settings.get("host", ""),
            port=int(settings.get("port", "0") or 0),
            tls=settings.get("tls", ""),
            username=settings.get("username", ""),
        )
        # `from` is a Python keyword: the field is reached by name.
        setattr(email, "from", settings.get("from", ""))
        return {"email": email}
    if kind is ChannelKind.PAGERDUTY:
        return {"pagerduty": pb.PagerDutyConfig(url=settings.get("url", ""))}
    if kind is ChannelKind.WEBHOOK:
        return {"webhook": pb.WebhookConfig()}
    return {"alertmanager": pb.AlertmanagerConfig()}


def channel_to_proto(channel: Channel) -> pb.Channel:
    message = pb.Channel(
        tenant_id=channel.tenant_id,
        channel_id=channel.channel_id,
        name=channel.name,
        kind=_KINDS[channel.kind],
        send_resolved=channel.send_resolved,
        secret_fingerprints=dict(channel.secret_fingerprints),
        created_at=to_timestamp(channel.created_at),
        updated_at=to_timestamp(channel.updated_at),
    )
    for name, config in _public(channel.kind, channel.settings).items():
        getattr(message, name).CopyFrom(config)
    return message


def silence_to_proto(silence: Silence, state: SilenceState) -> pb.Silence:
    return pb.Silence(
        tenant_id=silence.tenant_id,
        silence_id=silence.silence_id,
        matchers=[matcher_to_proto(m) for m in silence.matchers],
        starts_at=to_timestamp(silence.starts_at),
        ends_at=to_timestamp(silence.ends_at),
        created_by=silence.created_by,
        comment=silence.comment,
        state=SILENCE_STATES[state],
        updated_at=to_timestamp(silence.updated_at),
    )


def alert_to_proto(view: AlertView) -> pb.Alert:
    alert = view.alert
    return pb.Alert(
        fingerprint=alert.fingerprint,
        labels=dict(alert.labels),
        annotations=dict(alert.annotations),
        starts_at=to_timestamp(alert.starts_at),
        ends_at=optional_timestamp(alert.ends_at),
        state=_ALERT_STATES[view.state],
        silenced_by=list(view.silenced_by),
        inhibited=view.inhibited,
    )


def history_to_proto(entry: HistoryEntry) -> pb.AlertHistoryEntry:
    return pb.AlertHistoryEntry(
        fingerprint=entry.fingerprint,
        labels=dict(entry.labels),
        status=_STATUSES[entry.status],
        at=to_timestamp(entry.at),
        event_id=entry.event_id,
    )


def delivery_to_proto(delivery: Delivery) -> pb.Delivery:
    n = delivery.notification
    return pb.Delivery(
        notification_id=n.notification_id,
        channel_id=delivery.channel_id,
        receiver=n.receiver,
        group_key=n.group_key,
        group_labels=dict(n.group_labels),
        status=_STATUSES[n.status],
        reason=n.reason.value,
        fingerprints=[a.fingerprint for a in n.alerts],
        state=_DELIVERY_STATES[delivery.state],
        attempts=delivery.attempts,
        error=delivery.error,
        status_code=delivery.status_code,
        created_at=to_timestamp(n.created_at),
        finished_at=optional_timestamp(delivery.finished_at),
    )
