"""Each channel against a local receiver that checks the real payload format."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from typing import TYPE_CHECKING

import pytest

from portico_common.clock import ManualClock, SystemClock
from portico_common.crypto.keyring import FieldCipher, StaticDataKeys
from portico_slo.alerting.adapters.channels import default_senders
from portico_slo.alerting.adapters.channels.alertmanager import AlertmanagerSender
from portico_slo.alerting.adapters.channels.email import EmailSender
from portico_slo.alerting.adapters.channels.http import HttpPoster
from portico_slo.alerting.adapters.channels.pagerduty import PagerDutySender
from portico_slo.alerting.adapters.channels.slack import SlackSender
from portico_slo.alerting.adapters.channels.webhook import StandardWebhookSender
from portico_slo.alerting.adapters.memory import MemoryAlertingStore
from portico_slo.alerting.adapters.secrets import AesGcmSecretBox, TenantSecretBox
from portico_slo.alerting.app.delivery import RetryPolicy, deliver
from portico_slo.alerting.app.ports import Claimed
from portico_slo.alerting.domain.alerts import Alert
from portico_slo.alerting.domain.channels import Channel, ChannelKind
from portico_slo.alerting.domain.notifications import (
    Delivery,
    DeliveryState,
    Notification,
    NotifiedAlert,
    NotifyReason,
)
from portico_slo.alerting.errors import DeliveryFailedError
from portico_slo.alerting.testing import TEST_SECRET_KEY, RecordedSleeps
from portico_slo.sensitive import SLO_SENSITIVE_FIELDS

if TYPE_CHECKING:
    # conftest is not importable at run time under --import-mode=importlib.
    from conftest import Answer, Formats, HttpReceiver, Request, SmtpReceiver

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
SIGNING = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

StartReceiver = Callable[[Callable[["Request"], "Answer"]], "HttpReceiver"]


def slo_alert(tier: str, severity: str, *, resolved: bool = False) -> NotifiedAlert:
    alert = Alert(
        tenant_id="acme",
        labels={
            "alertname": "SLOBurnRate",
            "tenant": "acme",
            "plugin": "@acme/plugin-cost-insights",
            "version": "2.3.0",
            "slo": "slo-1",
            "tier": tier,
            "severity": severity,
            "team": "payments",
        },
        annotations={"summary": "burns 20x <fast> & hot"},
        starts_at=T0,
        updated_at=T0,
        ends_at=T0 + timedelta(minutes=30) if resolved else None,
    )
    return NotifiedAlert.of(alert, T0 + timedelta(hours=1))


def notification(*alerts: NotifiedAlert, notification_id: str = "n-1") -> Notification:
    return Notification(
        notification_id=notification_id,
        tenant_id="acme",
        receiver="oncall",
        group_key='{}:{slo="slo-1"}',
        group_labels={"slo": "slo-1"},
        reason=NotifyReason.FIRST_NOTIFICATION,
        alerts=alerts or (slo_alert("1h/5m", "page"),),
        created_at=T0 + timedelta(hours=1),
    )


def channel(kind: ChannelKind, **settings: str) -> Channel:
    return Channel(
        tenant_id="acme",
        channel_id="ch-1",
        name="oncall",
        kind=kind,
        send_resolved=True,
        settings=settings,
        secret_fingerprints={},
        created_at=T0,
        updated_at=T0,
    )


async def test_slack_gets_valid_block_kit(http_receiver: StartReceiver, formats: Formats) -> None:
    """The message is Block Kit Slack accepts: header, sections, context, mrkdwn escaped."""
    receiver = http_receiver(formats.slack)
    status = await SlackSender(HttpPoster()).send(
        channel(ChannelKind.SLACK),
        {"webhook_url": receiver.url + "/services/T/B/X"},
        notification(slo_alert("1h/5m", "page"), slo_alert("6h/30m", "page", resolved=True)),
    )
    assert status == 200
    [request] = receiver.requests
    message = request.json()
    assert message["text"] == "[FIRING:1] slo-1"
    assert [b["type"] for b in message["blocks"]] == ["header", "section", "section", "context"]
    assert "&lt;fast&gt; &amp; hot" in message["blocks"][1]["text"]["text"]


async def test_slack_refusing_a_payload_is_not_retried(http_receiver: StartReceiver) -> None:
    """Slack's 400 is final: the error names Slack and its answer, not the URL."""
    receiver = http_receiver(lambda _: (400, "invalid_blocks"))
    url = receiver.url + "/services/T/B/SECRET"
    with pytest.raises(DeliveryFailedError) as raised:
        await SlackSender(HttpPoster()).send(
            channel(ChannelKind.SLACK), {"webhook_url": url}, notification()
        )
    assert not raised.value.retryable
    assert str(raised.value) == "Slack answered HTTP 400: invalid_blocks"


async def test_pagerduty_triggers_and_resolves_with_one_dedup_key(
    http_receiver: StartReceiver, formats: Formats
) -> None:
    """Trigger and resolve of one SLO tier share a dedup key; the v2 schema holds for both."""
    receiver = http_receiver(formats.pagerduty)
    sender = PagerDutySender(HttpPoster())
    pd = channel(ChannelKind.PAGERDUTY, url=receiver.url + "/v2/enqueue")
    assert await sender.send(pd, {"routing_key": ROUTING_KEY}, notification()) == 202
    resolved = notification(slo_alert("1h/5m", "page", resolved=True), notification_id="n-2")
    assert await sender.send(pd, {"routing_key": ROUTING_KEY}, resolved) == 202
    trigger, resolve = (r.json() for r in receiver.requests)
    assert trigger["event_action"] == "trigger"
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["group"] == "payments"
    assert resolve == {
        "routing_key": ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": "portico/acme/slo-1/1h/5m",
    }
    assert trigger["dedup_key"] == resolve["dedup_key"]


async def test_pagerduty_tickets_are_warnings_and_tiers_have_their_own_incident(
    http_receiver: StartReceiver, formats: Formats
) -> None:
    """A ticket tier triggers a warning on its own dedup key; a 429 may be retried."""
    receiver = http_receiver(formats.pagerduty)
    pd = channel(ChannelKind.PAGERDUTY, url=receiver.url + "/v2/enqueue")
    await PagerDutySender(HttpPoster()).send(
        pd, {"routing_key": ROUTING_KEY}, notification(slo_alert("1d/2h", "ticket"))
    )
    [event] = [r.json() for r in receiver.requests]
    assert (event["payload"]["severity"], event["dedup_key"]) == (
        "warning",
        "portico/acme/slo-1/1d/2h",
    )
    busy = http_receiver(lambda _: (429, '{"status":"throttle event"}'))
    with pytest.raises(DeliveryFailedError) as raised:
        await PagerDutySender(HttpPoster()).send(
            channel(ChannelKind.PAGERDUTY, url=busy.url + "/v2/enqueue"),
            {"routing_key": ROUTING_KEY},
            notification(),
        )
    assert raised.value.retryable
    assert raised.value.status_code == 429


async def test_webhooks_are_signed_per_standard_webhooks(
    http_receiver: StartReceiver, formats: Formats
) -> None:
    """The receiver verifies the signature with the reference library; the body is AM's v4."""
    receiver = http_receiver(formats.standard_webhook(SIGNING))
    sender = StandardWebhookSender(HttpPoster(), SystemClock())
    status = await sender.send(
        channel(ChannelKind.WEBHOOK),
        {"url": receiver.url + "/hook", "signing_secret": SIGNING},
        notification(),
    )
    assert status == 204
    [request] = receiver.requests
    assert request.headers["webhook-id"] == "n-1"
    body = request.json()
    assert (body["version"], body["status"], body["receiver"]) == ("4", "firing", "oncall")
    assert body["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"
    assert body["commonLabels"]["slo"] == "slo-1"


async def test_a_webhook_signed_with_another_secret_is_refused(
    http_receiver: StartReceiver, formats: Formats
) -> None:
    """A receiver holding another secret refuses the signature; the failure is final."""
    receiver = http_receiver(formats.standard_webhook("whsec_" + "QUJD" * 8))
    with pytest.raises(DeliveryFailedError) as raised:
        await StandardWebhookSender(HttpPoster(), SystemClock()).send(
            channel(ChannelKind.WEBHOOK),
            {"url": receiver.url + "/hook", "signing_secret": SIGNING},
            notification(),
        )
    assert raised.value.status_code == 401
    assert not raised.value.retryable


async def test_alertmanager_gets_postable_alerts(
    http_receiver: StartReceiver, formats: Formats
) -> None:
    """POST /api/v2/alerts with the v2 schema; a firing alert stays alive two repeat intervals."""
    receiver = http_receiver(formats.alertmanager)
    status = await AlertmanagerSender(HttpPoster()).send(
        channel(ChannelKind.ALERTMANAGER),
        {"url": receiver.url + "/"},
        notification(slo_alert("1h/5m", "page"), slo_alert("6h/30m", "page", resolved=True)),
    )
    assert status == 200
    firing, resolved = receiver.requests[0].json()
    assert firing["endsAt"] == "2026-03-01T21:00:00Z"  # created 13:00 + 2 x 4 h
    assert resolved["endsAt"] == "2026-03-01T12:30:00Z"
    assert firing["labels"]["tier"] == "1h/5m"


async def test_email_goes_out_over_smtp_with_login(smtp_receiver: SmtpReceiver) -> None:
    """aiosmtpd receives the message from and to the configured addresses, after a login."""
    mail = channel(
        ChannelKind.EMAIL,
        to="oncall@acme.test, sre@acme.test",
        host="127.0.0.1",
        port=str(smtp_receiver.port),
        tls="none",
        username="portico",
        **{"from": "portico@acme.test"},
    )
    await EmailSender().send(mail, {"password": "hunter2hunter2"}, notification())
    [envelope] = smtp_receiver.messages
    assert envelope.mail_from == "portico@acme.test"
    assert envelope.rcpt_tos == ["oncall@acme.test", "sre@acme.test"]
    assert smtp_receiver.logins == [("portico", "hunter2hunter2")]
    message = message_from_bytes(envelope.original_content or b"")
    assert message["Subject"] == "[FIRING:1] slo-1"
    assert message["X-Portico-Group-Key"] == '{}:{slo="slo-1"}'
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    assert "PAGE SLOBurnRate @acme/plugin-cost-insights@2.3.0 tier 1h/5m" in body.decode()


async def test_smtp_refusals_are_final_and_busy_servers_retried(
    smtp_receiver: SmtpReceiver,
) -> None:
    """A 5xx reply fails for good; a 4xx reply and a closed port may pass on a retry."""
    mail = channel(
        ChannelKind.EMAIL,
        to="oncall@acme.test",
        host="127.0.0.1",
        port=str(smtp_receiver.port),
        tls="none",
        **{"from": "portico@acme.test"},
    )
    smtp_receiver.reply = "554 Transaction failed"
    with pytest.raises(DeliveryFailedError, match="SMTP server answered 554") as final:
        await EmailSender().send(mail, {}, notification())
    assert not final.value.retryable
    smtp_receiver.reply = "451 Try again later"
    with pytest.raises(DeliveryFailedError) as busy:
        await EmailSender().send(mail, {}, notification())
    assert busy.value.retryable
    closed = channel(
        ChannelKind.EMAIL,
        to="a@acme.test",
        host="127.0.0.1",
        port="1",
        tls="none",
        **{"from": "portico@acme.test"},
    )
    with pytest.raises(DeliveryFailedError) as down:
        await EmailSender(timeout_seconds=2).send(closed, {}, notification())
    assert down.value.retryable


async def test_a_receiver_that_recovers_gets_the_notification_on_a_retry(
    http_receiver: StartReceiver, formats: Formats
) -> None:
    """503, 503, then 202: delivered on the third attempt, with backoff between attempts."""
    answers = [(503, "unavailable"), (503, "unavailable")]

    def flaky(request: Request) -> Answer:
        return answers.pop(0) if answers else formats.pagerduty(request)

    receiver = http_receiver(flaky)
    clock = ManualClock(T0)
    store = MemoryAlertingStore(clock)
    # A channel sealed under the old suite-wide key is still delivered to.
    legacy = AesGcmSecretBox(TEST_SECRET_KEY)
    box = TenantSecretBox(FieldCipher(SLO_SENSITIVE_FIELDS, StaticDataKeys()), legacy)
    pd = channel(ChannelKind.PAGERDUTY, url=receiver.url + "/v2/enqueue")
    sealed = legacy.seal("acme", "ch-1", {"routing_key": ROUTING_KEY})
    sleeps = RecordedSleeps()
    delivered = await deliver(
        store.uow_factory(),
        box,
        default_senders(timeout_seconds=5),
        Claimed(Delivery(notification=notification(), channel_id="ch-1"), pd, sealed),
        policy=RetryPolicy(attempts=4, initial_seconds=0.5, max_seconds=8, jitter_seconds=0),
        sleep=sleeps,
    )
    assert (delivered.state, delivered.attempts, delivered.status_code) == (
        DeliveryState.DELIVERED,
        3,
        202,
    )
    assert sleeps.waits == [0.5, 1.0]
    assert len(receiver.requests) == 3
    assert json.loads(receiver.requests[-1].body)["routing_key"] == ROUTING_KEY
