"""Senders for each kind of channel, each speaking its receiver's own format."""

from __future__ import annotations

from portico_common.clock import Clock, SystemClock
from portico_slo.alerting.adapters.channels.alertmanager import AlertmanagerSender
from portico_slo.alerting.adapters.channels.email import EmailSender
from portico_slo.alerting.adapters.channels.http import HttpPoster
from portico_slo.alerting.adapters.channels.pagerduty import PagerDutySender
from portico_slo.alerting.adapters.channels.slack import SlackSender
from portico_slo.alerting.adapters.channels.webhook import StandardWebhookSender
from portico_slo.alerting.app.ports import Senders
from portico_slo.alerting.domain.channels import ChannelKind


def default_senders(*, timeout_seconds: float = 10.0, wall_clock: Clock | None = None) -> Senders:
    """A sender per channel kind; `timeout_seconds` bounds each attempt.

    `wall_clock` stamps Standard Webhooks signatures: receivers check that
    timestamp against their own clock, so it is the real time, not the
    Clock the notifier decides on.
    """
    http = HttpPoster(timeout_seconds=timeout_seconds)
    return {
        ChannelKind.SLACK: SlackSender(http),
        ChannelKind.EMAIL: EmailSender(timeout_seconds=timeout_seconds),
        ChannelKind.PAGERDUTY: PagerDutySender(http),
        ChannelKind.WEBHOOK: StandardWebhookSender(http, wall_clock or SystemClock()),
        ChannelKind.ALERTMANAGER: AlertmanagerSender(http),
    }
