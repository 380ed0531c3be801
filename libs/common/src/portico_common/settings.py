"""Settings shared by every service (pydantic-settings, env prefix PORTICO_).

Only `bootstrap` modules read settings; everything else receives values.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """What every Portico service needs to run; services subclass it."""

    model_config = SettingsConfigDict(env_prefix="PORTICO_", extra="ignore")

    nats_url: str = "nats://127.0.0.1:4222"
    # The service's NATS user (an nkey seed, "SU..."); empty connects without one.
    nats_nkey_seed: SecretStr = SecretStr("")
    # True when a provisioner created the streams and this service's durable
    # consumers (NATS with per-service permissions): the service only binds.
    nats_provisioned: bool = False
    # The service's own login role (portico_<service>), never an administrator's
    # or the migrator's: the service refuses a role that could bypass RLS.
    database_url: SecretStr = SecretStr("postgresql://127.0.0.1:5432/portico")
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50051
    # gRPC server reflection (grpcurl and the like); off outside development.
    grpc_reflection: bool = False
    metrics_port: int = 0
    # host:port of the auth service; empty disables token checks (unit tests only).
    auth_target: str = ""
    # Serving without any token check must be asked for by this name: only
    # tests do. Without it, a service with no auth target refuses to start.
    unsafe_no_auth: bool = False
    # This service's own client at auth (`svc-<service>`), for calls it makes to
    # other services; empty when it calls none.
    auth_client_id: str = ""
    auth_client_secret: SecretStr = SecretStr("")
    # Auth's signing keys (JWKS): refetched at most this often, however many tokens
    # name an unknown key, and still trusted this long after the last good fetch
    # while auth cannot be reached (then tokens are refused with UNAVAILABLE).
    jwks_min_refresh_seconds: float = Field(default=5.0, ge=0, le=600)
    jwks_stale_seconds: float = Field(default=3600.0, ge=600)
    log_level: str = "INFO"
    log_format: str = "json"
    # JetStream: how often a failing message is retried before the dead-letter subject.
    max_deliver: int = 5
    # 3 on a clustered JetStream; 1 for the embedded single server.
    nats_stream_replicas: int = 1
    db_pool_min: int = 1
    db_pool_max: int = 10
    # How long graceful shutdown waits for in-flight RPCs, then for handlers;
    # twice this stays under the 15 s `portico up` and most orchestrators allow.
    shutdown_grace_seconds: float = 5.0
    # Outbox relay poll interval: the relay is woken at once on commit; the poll
    # is only the safety net after a crash or an outage of NATS.
    outbox_poll_seconds: float = 1.0
    # Where to write the bound ports once serving (JSON), for a supervisor or a
    # test that started the process on port 0; empty writes nothing.
    ready_file: str = ""


class DatabaseSetupSettings(BaseSettings):
    """What `python -m portico_common.dbsetup` needs (PORTICO_ prefix, like the services).

    `provision` logs in with `admin_database_url` (a role that may create
    roles and schemas) and sets each role's password from its URL: the
    migrator's and every service's, the same URL that service is given as
    its PORTICO_DATABASE_URL. `migrate` logs in with `migrator_database_url`.
    """

    model_config = SettingsConfigDict(env_prefix="PORTICO_", extra="ignore")

    admin_database_url: SecretStr = SecretStr("")
    migrator_database_url: SecretStr = SecretStr("")
    auth_database_url: SecretStr = SecretStr("")
    tenancy_database_url: SecretStr = SecretStr("")
    security_database_url: SecretStr = SecretStr("")
    compat_database_url: SecretStr = SecretStr("")
    rollout_database_url: SecretStr = SecretStr("")
    slo_database_url: SecretStr = SecretStr("")

    def service_url(self, service: str) -> str:
        """PORTICO_<SERVICE>_DATABASE_URL, or "" when it is not set."""
        value = getattr(self, f"{service}_database_url", None)
        return value.get_secret_value() if isinstance(value, SecretStr) else ""
