"""Email over SMTP (aiosmtplib): a plain-text message per notification.

`tls` is `starttls` (upgrade on the submission port, the default), `tls`
(implicit TLS, port 465) or `none` (a relay on a trusted network). A 4xx
reply or a lost connection may pass on a retry; a 5xx reply will not.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib

from portico_slo.alerting.adapters.channels.render import body, title
from portico_slo.alerting.domain.channels import Channel
from portico_slo.alerting.domain.notifications import Notification
from portico_slo.alerting.errors import DeliveryFailedError


def email_message(channel: Channel, notification: Notification) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = title(notification)
    message["From"] = channel.settings["from"]
    message["To"] = channel.settings["to"]
    message["Date"] = formatdate(notification.created_at.timestamp(), usegmt=True)
    domain = channel.settings["from"].rpartition("@")[2]
    message["Message-ID"] = make_msgid(notification.notification_id.replace("-", ""), domain)
    message["X-Portico-Group-Key"] = notification.group_key
    message.set_content(body(notification))
    return message


class EmailSender:
    def __init__(self, *, timeout_seconds: float = 10.0) -> None:
        self._timeout = timeout_seconds

    async def send(
        self, channel: Channel, secrets: Mapping[str, str], notification: Notification
    ) -> int:
        settings = channel.settings
        tls = settings.get("tls", "starttls")
        password = secrets.get("password", "")
        try:
            await aiosmtplib.send(
                email_message(channel, notification),
                hostname=settings["host"],
                port=int(settings.get("port", "587")),
                username=settings.get("username") or None,
                password=password or None,
                use_tls=tls == "tls",
                start_tls=True if tls == "starttls" else False if tls == "none" else None,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryFailedError(
                f"SMTP server answered {exc.code}", retryable=400 <= exc.code < 500
            ) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryFailedError(
                f"SMTP: {type(exc).__name__} (server unreachable)", retryable=True
            ) from None
        return 0
