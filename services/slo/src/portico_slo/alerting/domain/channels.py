"""Channels: where a route's notifications go, and what each kind needs.

A channel's settings are public (an SMTP host, a sender address); its
secrets (webhook URLs, routing keys, passwords, signing secrets) are
write-only: the domain keeps only their fingerprints, the adapters keep them
sealed, and no read ever returns them.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit

from portico_slo.alerting.errors import InvalidChannelError

_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
_ADDRESS = re.compile(r"[^@\s,<>]+@[^@\s,<>]+\.[^@\s,<>]+")
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]")
MAX_SECRET = 2048
PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


class ChannelKind(StrEnum):
    SLACK = "slack"
    EMAIL = "email"
    PAGERDUTY = "pagerduty"
    WEBHOOK = "webhook"
    ALERTMANAGER = "alertmanager"


def check_url(field: str, value: str) -> str:
    """An absolute http(s) URL with a host; the message never repeats the value."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidChannelError(field, "must be an absolute http or https URL")
    return value


def _addresses(field: str, value: str) -> str:
    addresses = [a.strip() for a in value.split(",") if a.strip()]
    if not addresses or not all(_ADDRESS.fullmatch(a) for a in addresses):
        raise InvalidChannelError(field, f"{value!r} is not a comma-separated list of addresses")
    return ", ".join(addresses)


def _address(field: str, value: str) -> str:
    if not _ADDRESS.fullmatch(value.strip()):
        raise InvalidChannelError(field, f"{value!r} is not an email address")
    return value.strip()


def _host(field: str, value: str) -> str:
    if not _HOST.fullmatch(value):
        raise InvalidChannelError(field, f"{value!r} is not a host name or address")
    return value


def _port(field: str, value: str) -> str:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise InvalidChannelError(field, f"{value!r} is not a port (1-65535)")
    return str(int(value))


def _tls(field: str, value: str) -> str:
    if value not in ("starttls", "tls", "none"):
        raise InvalidChannelError(field, f"{value!r}: use starttls, tls or none")
    return value


def _routing_key(field: str, value: str) -> str:
    # PagerDuty integration keys are 32 characters; the Events API v2 refuses others.
    if len(value) != 32 or not value.isalnum():
        raise InvalidChannelError(field, "a PagerDuty routing key is 32 letters and digits")
    return value


def _signing_secret(field: str, value: str) -> str:
    raw = value.removeprefix("whsec_")
    try:
        decoded = base64.b64decode(raw + "==", validate=False)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) < 24 or len(decoded) > 64:
        raise InvalidChannelError(
            field, "a Standard Webhooks secret is 'whsec_' and 24 to 64 base64-encoded bytes"
        )
    return value


def _text(field: str, value: str) -> str:
    if not value.isprintable() or len(value) > 256:
        raise InvalidChannelError(field, "must be printable and at most 256 characters")
    return value


Check = Callable[[str, str], str]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One setting or secret of a channel kind."""

    check: Check
    required: bool = False
    default: str = ""


@dataclass(frozen=True, slots=True)
class KindSpec:
    settings: Mapping[str, FieldSpec]
    secrets: Mapping[str, FieldSpec]


SPECS: Mapping[ChannelKind, KindSpec] = {
    ChannelKind.SLACK: KindSpec(
        settings={}, secrets={"webhook_url": FieldSpec(check_url, required=True)}
    ),
    ChannelKind.EMAIL: KindSpec(
        settings={
            "to": FieldSpec(_addresses, required=True),
            "from": FieldSpec(_address, required=True),
            "host": FieldSpec(_host, required=True),
            "port": FieldSpec(_port, default="587"),
            "tls": FieldSpec(_tls, default="starttls"),
            "username": FieldSpec(_text),
        },
        secrets={"password": FieldSpec(_text)},
    ),
    ChannelKind.PAGERDUTY: KindSpec(
        settings={"url": FieldSpec(check_url, default=PAGERDUTY_EVENTS_URL)},
        secrets={"routing_key": FieldSpec(_routing_key, required=True)},
    ),
    ChannelKind.WEBHOOK: KindSpec(
        settings={},
        secrets={
            "url": FieldSpec(check_url, required=True),
            "signing_secret": FieldSpec(_signing_secret, required=True),
        },
    ),
    ChannelKind.ALERTMANAGER: KindSpec(
        settings={}, secrets={"url": FieldSpec(check_url, required=True)}
    ),
}


def check_name(name: str) -> str:
    """A channel name, as routes name their receiver."""
    if not _NAME.fullmatch(name):
        raise InvalidChannelError(
            "name", f"{name!r}: 1-63 of a-z, 0-9, '_', '.', '-', starting with a letter or digit"
        )
    return name


def check_settings(kind: ChannelKind, settings: Mapping[str, str]) -> dict[str, str]:
    """The kind's settings, checked, with defaults for those not given."""
    spec = SPECS[kind]
    unknown = sorted(set(settings) - set(spec.settings))
    if unknown:
        raise InvalidChannelError(f"{kind}.{unknown[0]}", f"a {kind} channel has no such setting")
    checked: dict[str, str] = {}
    for name, field in spec.settings.items():
        value = settings.get(name, "") or field.default
        if not value:
            if field.required:
                raise InvalidChannelError(f"{kind}.{name}", "is required")
            continue
        checked[name] = field.check(f"{kind}.{name}", value)
    return checked


def check_secrets(
    kind: ChannelKind, given: Mapping[str, str], stored: frozenset[str] = frozenset()
) -> dict[str, str]:
    """The secrets given, checked; a required one may instead be `stored` already.

    An empty value means "not given" (keep the stored one): secrets are
    write-only, so a client updating other fields never has them to resend.
    """
    spec = SPECS[kind]
    unknown = sorted(set(given) - set(spec.secrets))
    if unknown:
        raise InvalidChannelError(f"{kind}.{unknown[0]}", f"a {kind} channel has no such secret")
    checked: dict[str, str] = {}
    for name, field in spec.secrets.items():
        value = given.get(name, "")
        if not value:
            if field.required and name not in stored:
                raise InvalidChannelError(f"{kind}.{name}", "is required")
            continue
        if len(value) > MAX_SECRET:
            raise InvalidChannelError(f"{kind}.{name}", f"longer than {MAX_SECRET} characters")
        checked[name] = field.check(f"{kind}.{name}", value)
    return checked


@dataclass(frozen=True, slots=True, kw_only=True)
class Channel:
    """A receiver of notifications; its secrets appear only as fingerprints."""

    tenant_id: str
    channel_id: str
    name: str
    kind: ChannelKind
    send_resolved: bool
    settings: Mapping[str, str]
    secret_fingerprints: Mapping[str, str]
    created_at: datetime
    updated_at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "settings", dict(self.settings))
        object.__setattr__(self, "secret_fingerprints", dict(self.secret_fingerprints))
