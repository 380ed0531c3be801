"""Local receivers for slo's alert channels, speaking each real protocol and checking its payload.

HTTP receivers (`portico_embedded.receivers`) run a stdlib server on a port it
binds itself (port 0) in a thread; each validates what it is sent against the receiver's published
format (JSON Schema of Slack Block Kit, PagerDuty Events API v2,
Alertmanager's API v2; Standard Webhooks signatures with the
`standardwebhooks` library) and answers as the real service does. The SMTP
server is aiosmtpd, on the test's event loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

# The HTTP server and the PagerDuty endpoint are shared with the end-to-end tests and
# the demo; tests import these names from here.
from portico_embedded.receivers import (
    Answer,
    HttpReceiver,
    Request,
    pagerduty_events,
    schema_errors,
)


@pytest.fixture
def http_receiver() -> Iterator[Callable[[Callable[[Request], Answer]], HttpReceiver]]:
    """Starts receivers with the given answer function; stops them after the test."""
    started: list[HttpReceiver] = []

    def start(respond: Callable[[Request], Answer]) -> HttpReceiver:
        receiver = HttpReceiver(respond).start()
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


def _text(
    max_length: int = 3000, kinds: tuple[str, ...] = ("plain_text", "mrkdwn")
) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", "text"],
        "properties": {
            "type": {"enum": list(kinds)},
            "text": {"type": "string", "minLength": 1, "maxLength": max_length},
            "emoji": {"type": "boolean"},
            "verbatim": {"type": "boolean"},
        },
        "additionalProperties": False,
    }


# Slack's Block Kit for incoming webhooks: the blocks Portico sends, with Slack's limits.
SLACK_MESSAGE = {
    "type": "object",
    "anyOf": [{"required": ["text"]}, {"required": ["blocks"]}],
    "properties": {
        "text": {"type": "string"},
        "blocks": {
            "type": "array",
            "maxItems": 50,
            "items": {
                "oneOf": [
                    {
                        "type": "object",
                        "required": ["type", "text"],
                        "properties": {
                            "type": {"const": "header"},
                            "text": _text(150, ("plain_text",)),
                            "block_id": {"type": "string", "maxLength": 255},
                        },
                        "additionalProperties": False,
                    },
                    {
                        "type": "object",
                        "required": ["type"],
                        "anyOf": [{"required": ["text"]}, {"required": ["fields"]}],
                        "properties": {
                            "type": {"const": "section"},
                            "text": _text(),
                            "fields": {"type": "array", "maxItems": 10, "items": _text(2000)},
                            "block_id": {"type": "string", "maxLength": 255},
                        },
                        "additionalProperties": False,
                    },
                    {
                        "type": "object",
                        "required": ["type", "elements"],
                        "properties": {
                            "type": {"const": "context"},
                            "elements": {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": 10,
                                "items": _text(),
                            },
                            "block_id": {"type": "string", "maxLength": 255},
                        },
                        "additionalProperties": False,
                    },
                    {
                        "type": "object",
                        "required": ["type"],
                        "properties": {"type": {"const": "divider"}},
                        "additionalProperties": False,
                    },
                ]
            },
        },
    },
}


def slack_webhook(request: Request) -> Answer:
    """Slack's incoming webhook: "ok", or 400 with its error code."""
    try:
        message = request.json()
    except ValueError:
        return 400, "invalid_payload"
    if schema_errors(SLACK_MESSAGE, message):
        return 400, "invalid_blocks"
    return 200, "ok"


# Alertmanager's API v2 `postableAlerts` (api/v2/openapi.yaml).
LABEL_SET = {"type": "object", "additionalProperties": {"type": "string"}}
POSTABLE_ALERTS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["labels"],
        "properties": {
            "labels": LABEL_SET,
            "annotations": LABEL_SET,
            "startsAt": {"type": "string"},
            "endsAt": {"type": "string"},
            "generatorURL": {"type": "string"},
        },
        "additionalProperties": False,
    },
}


def alertmanager_api(request: Request) -> Answer:
    """Alertmanager's POST /api/v2/alerts: 200, or 400 naming what is wrong."""
    if request.path != "/api/v2/alerts":
        return 404, "not found"
    alerts = request.json()
    errors = schema_errors(POSTABLE_ALERTS, alerts)
    for alert in alerts if isinstance(alerts, list) else []:
        for name in ("startsAt", "endsAt"):
            if name in alert:
                try:
                    datetime.fromisoformat(alert[name])
                except ValueError:
                    errors.append(f"{name} {alert[name]!r} is not a date-time")
    if errors:
        return 400, json.dumps({"code": 400, "message": "; ".join(errors)})
    return 200, ""


def standard_webhook(secret: str) -> Callable[[Request], Answer]:
    """A receiver that verifies Standard Webhooks signatures with the reference library."""

    def respond(request: Request) -> Answer:
        try:
            Webhook(secret).verify(request.body, request.headers)
        except WebhookVerificationError as exc:
            return 401, str(exc)
        return 204, ""

    return respond


@dataclass
class SmtpReceiver:
    """An aiosmtpd server; `messages` has each envelope it took."""

    port: int
    messages: list[Envelope] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    # When set, DATA is answered with this reply instead of 250.
    reply: str = ""


@pytest.fixture
async def smtp_receiver() -> AsyncIterator[SmtpReceiver]:
    """A real SMTP server on 127.0.0.1, on a port it binds itself, accepting any login."""
    state = SmtpReceiver(port=0)

    class Handler:
        # aiosmtpd calls handle_<VERB>(server, session, envelope) by name.
        async def handle_DATA(  # noqa: N802
            self,
            server: SMTP,  # noqa: ARG002
            session: Session,  # noqa: ARG002
            envelope: Envelope,
        ) -> str:
            if state.reply:
                return state.reply
            state.messages.append(envelope)
            return "250 Message accepted for delivery"

    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        state.logins.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=True)

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(Handler(), authenticator=authenticate, auth_require_tls=False),
        "127.0.0.1",
        0,
    )
    state.port = server.sockets[0].getsockname()[1]
    yield state
    server.close()
    await server.wait_closed()


@dataclass(frozen=True)
class Formats:
    """Each receiver's answer function (tests cannot import conftest, so a fixture hands them)."""

    slack: Callable[[Request], Answer] = slack_webhook
    pagerduty: Callable[[Request], Answer] = pagerduty_events
    alertmanager: Callable[[Request], Answer] = alertmanager_api
    standard_webhook: Callable[[str], Callable[[Request], Answer]] = standard_webhook


@pytest.fixture
def formats() -> Formats:
    """The receivers' formats, as answer functions for `http_receiver`."""
    return Formats()
