"""Settings shared by every service (pydantic-settings, env prefix PORTICO_).

Only `bootstrap` modules read settings; everything else receives values.

TLS has one settings class per hop, each mixed into whoever makes that hop:
`GrpcClientTlsSettings` (services and the gateway calling services),
`NatsTlsSettings` (services and the JetStream provisioner), and
`DatabaseTlsSettings` (services and `dbsetup`). Every TLS field names a PEM
file; an empty one means plaintext on that hop (tests, local development
without `portico up`, which turns all of them on).
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class GrpcClientTlsSettings(BaseSettings):
    """How a process verifies the gRPC servers it calls, and who it is to them."""

    model_config = SettingsConfigDict(env_prefix="PORTICO_", extra="ignore")

    # The CA that signs the services' server certificates. Set: every channel
    # the kernel makes (auth's JWKS and tokens, service_channel, the gateway's
    # upstreams) speaks TLS and checks the server's certificate and name.
    grpc_tls_ca_file: str = ""
    # This process's certificate and key, shown to servers that require client
    # certificates (PORTICO_GRPC_TLS_CLIENT_CA_FILE on their side: mutual TLS).
    grpc_tls_client_cert_file: str = ""
    grpc_tls_client_key_file: str = ""


class NatsTlsSettings(BaseSettings):
    """TLS to NATS: the CA that signs the server's certificate, and our own if it wants one."""

    model_config = SettingsConfigDict(env_prefix="PORTICO_", extra="ignore")

    # Set: the connection is TLS and the server's certificate and name are checked.
    nats_tls_ca_file: str = ""
    # For a server that verifies clients (`tls { verify: true }`).
    nats_tls_cert_file: str = ""
    nats_tls_key_file: str = ""
    # TLS from the first byte; the server needs `tls { handshake_first: true }`
    # (or "auto"). False waits for the server's INFO to ask for TLS, which an
    # attacker in between can drop (nats-py then carries on in plaintext).
    nats_tls_handshake_first: bool = True


class DatabaseTlsSettings(BaseSettings):
    """TLS to PostgreSQL: sslmode verify-full against this CA."""

    model_config = SettingsConfigDict(env_prefix="PORTICO_", extra="ignore")

    # Set: every connection (the pool, the outbox listener, provision, migrate)
    # requires TLS and checks the server's certificate and host name, as
    # libpq's sslmode=verify-full. Empty: whatever the URL says (asyncpg's
    # default is sslmode=prefer, which checks nothing).
    database_tls_ca_file: str = ""


class ServiceSettings(GrpcClientTlsSettings, NatsTlsSettings, DatabaseTlsSettings):
    """What every Portico service needs to run; services subclass it."""

    model_config = SettingsConfigDict(env_prefix="PORTICO_", extra="ignore")

    # One server, or a cluster's members comma-separated (any of them will do:
    # the cluster announces the rest, but a start finds one that answers).
    nats_url: str = "nats://127.0.0.1:4222"
    # The service's NATS user (an nkey seed, "SU..."); empty connects without one.
    nats_nkey_seed: SecretStr = SecretStr("")
    # True when a provisioner created the streams and this service's durable
    # consumers (NATS with per-service permissions): the service only binds.
    nats_provisioned: bool = False
    # The service's own login role (portico_<service>), never an administrator's
    # or the migrator's: the service refuses a role that could bypass RLS.
    database_url: SecretStr = SecretStr("postgresql://127.0.0.1:5432/portico")
    # The service's platform role (portico_<service>_platform): the only one the
    # policies let use ALL_TENANTS, for schedulers, the outbox relay and
    # retention. Empty: database_url's, logging in as that role instead (the
    # password provision gives it unless told another).
    platform_database_url: SecretStr = SecretStr("")
    # True when both URLs are a PgBouncer in transaction pooling: no prepared
    # statement cache, and the schema's search_path set in each transaction
    # (`portico_common.db.create_pool`; docs/tenancy-isolation.md).
    database_behind_pgbouncer: bool = False
    # A URL straight to PostgreSQL (the platform role's) for the outbox relay's
    # LISTEN. Behind PgBouncer in transaction pooling a LISTEN cannot hold: the
    # server connection goes to other clients between statements. So there,
    # without this URL, the relay does not listen: this process's commits still
    # wake it at once, other processes' (replicas, a tenant move) wait for the
    # poll (outbox_poll_seconds). Empty elsewhere: the platform URL is used.
    database_listen_url: SecretStr = SecretStr("")
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50051
    # gRPC server reflection (grpcurl and the like); off outside development.
    grpc_reflection: bool = False
    # The gRPC server's certificate (chain) and key: set, it serves TLS only.
    grpc_tls_cert_file: str = ""
    grpc_tls_key_file: str = ""
    # Set (with the two above): mutual TLS. Every client, the gateway and the
    # other services included, must show a certificate this CA signed.
    grpc_tls_client_ca_file: str = ""
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
    # JetStream: how long a fetched, unacknowledged message waits before it is
    # delivered again; after a crash (kill -9) mid-handler, the event is retried
    # this long after it was taken. Applies to consumers the service creates.
    event_ack_wait_seconds: float = Field(default=30.0, gt=0)
    # 3 on a clustered JetStream; 1 for the embedded single server.
    nats_stream_replicas: int = 1
    db_pool_min: int = 1
    db_pool_max: int = 10
    db_platform_pool_max: int = Field(default=4, ge=1)
    # How long graceful shutdown waits for in-flight RPCs, then for handlers;
    # twice this stays under the 15 s `portico up` and most orchestrators allow.
    shutdown_grace_seconds: float = 5.0
    # Outbox relay poll interval: the relay is woken at once on commit; the poll
    # is only the safety net after a crash or an outage of NATS.
    outbox_poll_seconds: float = 1.0
    # How often health probes PostgreSQL and NATS (NOT_SERVING while the database
    # is unreachable, SERVING again once it answers).
    health_probe_seconds: float = Field(default=2.0, gt=0, le=60)
    # Where to write the bound ports once serving (JSON), for a supervisor or a
    # test that started the process on port 0; empty writes nothing.
    ready_file: str = ""
    # host:port of tenancy: it hands out tenants' data keys to seal sensitive fields
    # with (as this service's own identity; empty: such fields are refused), and the
    # tenants whose tokens are refused are loaded from it at start and every
    # tenant_status_resync_seconds (empty: from the events only).
    tenancy_target: str = ""
    # How long a tenant's data keys are kept in memory: a shredded tenant's
    # values stop opening here at most this long after the shred.
    data_key_cache_seconds: float = Field(default=60.0, ge=0, le=3600)
    # ---- the tenant lifecycle (docs/tenancy-lifecycle.md) ----
    # Or a file where tenancy writes its port once serving (a supervisor's ready
    # file, {"grpc_port": N}), read at each call: for a process started before
    # tenancy (auth under `portico up`). Reached on 127.0.0.1.
    tenancy_target_file: str = ""
    tenant_status_resync_seconds: float = Field(default=60.0, gt=0)
    # A suspended tenant's reads (Get/List/Resolve/Watch) still pass when true.
    suspended_tenant_reads: bool = False
    # ---- retention (portico_common.retention): how long logs are kept ----
    # How often the purges run (0: never); rows go in batches with a pause between.
    retention_interval_seconds: float = Field(default=3600.0, ge=0)
    retention_batch_size: int = Field(default=5000, ge=1)
    retention_pause_seconds: float = Field(default=0.05, ge=0)
    retention_outbox_seconds: float = Field(default=86400.0, gt=0)
    # At least the event stream's retention (7 days): checked at start.
    retention_inbox_seconds: float = Field(default=8 * 86400.0, gt=0)
    retention_access_denials_seconds: float = Field(default=90 * 86400.0, gt=0)
    # ---- idempotency keys ----
    # How long a key answers its stored response after its first use; then it
    # may be used again, and the retention purge deletes it.
    idempotency_ttl_seconds: float = Field(default=24 * 3600.0, gt=0)
    # A key left in flight this long is taken to belong to a process that died
    # in the middle of the request (kill -9, a lost node): the client's retry
    # then runs it afresh, or is refused as already applied if its effect
    # committed. Longer than any request takes.
    idempotency_stale_seconds: float = Field(default=60.0, gt=0)
    # Noisy neighbours: calls of a heavy RPC (verification, solving) one tenant
    # may have running at once in this process; more are RESOURCE_EXHAUSTED.
    heavy_rpc_tenant_concurrency: int = Field(default=4, ge=1)


class DatabaseSetupSettings(DatabaseTlsSettings):
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
    # Each service's platform role's own password, when it should not share the
    # request role's (PORTICO_<SERVICE>_PLATFORM_DATABASE_URL).
    auth_platform_database_url: SecretStr = SecretStr("")
    tenancy_platform_database_url: SecretStr = SecretStr("")
    security_platform_database_url: SecretStr = SecretStr("")
    compat_platform_database_url: SecretStr = SecretStr("")
    rollout_platform_database_url: SecretStr = SecretStr("")
    slo_platform_database_url: SecretStr = SecretStr("")

    def service_url(self, service: str) -> str:
        """PORTICO_<SERVICE>_DATABASE_URL, or "" when it is not set."""
        value = getattr(self, f"{service}_database_url", None)
        return value.get_secret_value() if isinstance(value, SecretStr) else ""

    def platform_url(self, service: str) -> str:
        """PORTICO_<SERVICE>_PLATFORM_DATABASE_URL, or "" when it is not set."""
        value = getattr(self, f"{service}_platform_database_url", None)
        return value.get_secret_value() if isinstance(value, SecretStr) else ""
