"""auth's sensitive fields, sealed with the tenant's data key: the one place that says which."""

from __future__ import annotations

from portico_common.crypto.keyring import SensitiveField, SensitiveFields

CLIENT_METADATA = SensitiveField(
    "clients",
    "metadata_sealed",
    "a client's metadata: the free-form pairs given at registration (owners, purposes,"
    " tickets), sealed with the key of the client's one tenant",
)

AUTH_SENSITIVE_FIELDS = SensitiveFields("auth", [CLIENT_METADATA])
