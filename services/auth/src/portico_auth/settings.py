"""Settings of the auth service (env prefix PORTICO_)."""

from __future__ import annotations

from pydantic import SecretStr

from portico_common.settings import ServiceSettings


class AuthSettings(ServiceSettings):
    grpc_port: int = 50062
    # The platform admin client, upserted on every start with tenants "*" and every scope.
    auth_admin_client_id: str = "portico-admin"
    # Required; optional here only so that bootstrap can say clearly what is missing.
    auth_admin_client_secret: SecretStr | None = None
    # Encrypts the signing keys at rest (AES-GCM under a key derived with HKDF).
    # Required; losing or changing it makes the stored signing keys unreadable.
    auth_key_encryption_key: SecretStr | None = None
    # The services' own clients, upserted on every start like the admin client:
    # a JSON object {"<service>": "<secret>", ...}; each becomes client
    # `svc-<service>` with role `service`, able to act for every tenant.
    auth_service_client_secrets: SecretStr = SecretStr("")
    auth_token_default_ttl_seconds: int = 900
    auth_token_max_ttl_seconds: int = 3600
    # How long a signing key signs before its successor takes over.
    auth_signing_key_lifetime_seconds: int = 30 * 24 * 3600
    # How often each replica checks whether a successor key is due.
    auth_key_rotation_check_seconds: float = 3600.0
    # IssueServiceToken's rate limits (token buckets in each replica's memory):
    # per client id, and per source address (the gRPC peer, or the address a
    # trusted proxy forwards).
    auth_issue_client_burst: int = 20
    auth_issue_client_per_second: float = 1.0
    auth_issue_source_burst: int = 100
    auth_issue_source_per_second: float = 5.0
    # This many bad secrets within the window lock the client id out for
    # auth_lockout_seconds (persisted: every replica and restart agrees).
    auth_lockout_max_failures: int = 5
    auth_lockout_window_seconds: float = 300.0
    auth_lockout_seconds: float = 900.0
    # Peers (IPs or CIDRs, comma separated) whose `x-forwarded-for` names the
    # real source of a token request: the gateway's address. Empty trusts none.
    auth_trusted_proxies: str = ""
