"""slo's sensitive fields: sealed with the tenant's data key (the one place that says which)."""

from __future__ import annotations

from portico_common.crypto.keyring import SensitiveField, SensitiveFields

CHANNEL_SECRETS = SensitiveField(
    "alert_channels",
    "sealed_secrets",
    "alert channels' secrets: webhook URLs, routing keys, SMTP passwords, signing secrets",
)

SLO_SENSITIVE_FIELDS = SensitiveFields("slo", [CHANNEL_SECRETS])
