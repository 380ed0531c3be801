"""The one place that reads auth's settings and wires its dependencies.

`build` is pure wiring: unit tests give it the in-memory store and drive
what it returns; `run` gives it the real adapters.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

from pydantic import SecretStr

from portico.auth.v1 import auth_pb2, auth_pb2_grpc
from portico_auth.adapters.key_encryption import KeyEncryptor
from portico_auth.adapters.postgres import AuthPgUnitOfWork
from portico_auth.adapters.tenant_deletion import delete_tenant_clients
from portico_auth.app import handlers
from portico_auth.app.handlers import Policies, Throttling
from portico_auth.app.ports import UnitOfWorkFactory
from portico_auth.domain.clients import service_client_id
from portico_auth.domain.lockout import LockoutPolicy
from portico_auth.domain.rate_limits import IssueThrottle, Rate
from portico_auth.domain.signing_keys import KeyPolicy
from portico_auth.domain.tokens import TokenPolicy, jwks_of
from portico_auth.entrypoints.grpc_api import AuthApi, AuthServicer
from portico_auth.entrypoints.jobs import key_rotation, lockout_pruning
from portico_auth.entrypoints.sources import SourceResolver, parse_networks
from portico_auth.errors import AuthError, ConfigurationError
from portico_auth.sensitive import AUTH_SENSITIVE_FIELDS
from portico_auth.settings import AuthSettings
from portico_common.clock import Clock, SystemClock
from portico_common.crypto.keyring import FieldCipher
from portico_common.crypto.tenancy_client import tenancy_data_keys_found_later
from portico_common.events.consumer import Subscription
from portico_common.grpc.registration import Servicer
from portico_common.grpc.service_tokens import ServiceIdentity, ServiceTokens
from portico_common.grpc.tokens import JwksFetcher, TokenVerifier
from portico_common.runtime import Background, Runtime, bootstrap_process, serve
from portico_common.tenant_status import tenancy_address
from portico_common.uow import uow_factory

log = logging.getLogger(__name__)
SERVICE = "auth"
MIGRATIONS = "portico_auth.migrations"
# Published keys outlive their signing window by the longest token plus this skew margin.
_CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class AuthConfig:
    """auth's settings, checked and converted."""

    admin_client_id: str
    admin_client_secret: str
    encryptor: KeyEncryptor
    # Service name -> the secret of its own client (`svc-<service>`).
    service_secrets: dict[str, str]
    policies: Policies
    rotation_check_seconds: float
    per_client: Rate
    per_source: Rate
    sources: SourceResolver


def load_config(settings: AuthSettings) -> AuthConfig:
    """Checks and converts the settings; ConfigurationError says what to set."""
    admin_secret = settings.auth_admin_client_secret
    kek_secret = settings.auth_key_encryption_key
    if admin_secret is None or kek_secret is None:
        missing = [
            env
            for env, value in (
                ("PORTICO_AUTH_ADMIN_CLIENT_SECRET", admin_secret),
                ("PORTICO_AUTH_KEY_ENCRYPTION_KEY", kek_secret),
            )
            if value is None
        ]
        raise ConfigurationError(
            f"{' and '.join(missing)} must be set: auth needs the admin client's secret and"
            " the secret that encrypts its signing keys at rest (keep that one: the stored"
            " keys cannot be read without it after a restart)"
        )
    try:
        tokens = TokenPolicy(
            settings.auth_token_default_ttl_seconds, settings.auth_token_max_ttl_seconds
        )
        lifetime = timedelta(seconds=settings.auth_signing_key_lifetime_seconds)
        keys = KeyPolicy(
            lifetime=lifetime,
            rotate_before=min(timedelta(days=1), lifetime / 4),
            overlap=timedelta(seconds=tokens.max_ttl) + _CLOCK_SKEW,
        )
    except ValueError as exc:
        raise ConfigurationError(f"invalid token or signing key lifetimes: {exc}") from exc
    try:
        lockout = LockoutPolicy(
            settings.auth_lockout_max_failures,
            timedelta(seconds=settings.auth_lockout_window_seconds),
            timedelta(seconds=settings.auth_lockout_seconds),
        )
        per_client = Rate(settings.auth_issue_client_burst, settings.auth_issue_client_per_second)
        per_source = Rate(settings.auth_issue_source_burst, settings.auth_issue_source_per_second)
    except ValueError as exc:
        raise ConfigurationError(f"invalid lockout or rate limit settings: {exc}") from exc
    try:
        proxies = parse_networks(settings.auth_trusted_proxies)
    except ValueError as exc:
        raise ConfigurationError(f"PORTICO_AUTH_TRUSTED_PROXIES: {exc}") from exc
    return AuthConfig(
        settings.auth_admin_client_id,
        admin_secret.get_secret_value(),
        KeyEncryptor(kek_secret.get_secret_value()),
        parse_service_secrets(settings.auth_service_client_secrets.get_secret_value()),
        Policies(tokens, keys, lockout),
        settings.auth_key_rotation_check_seconds,
        per_client,
        per_source,
        SourceResolver(proxies),
    )


def parse_service_secrets(raw: str) -> dict[str, str]:
    """The services' client secrets from their JSON setting; never echoes a secret."""
    if not raw.strip():
        return {}
    try:
        found = json.loads(raw)
    except json.JSONDecodeError:
        raise ConfigurationError(
            "PORTICO_AUTH_SERVICE_CLIENT_SECRETS must be a JSON object of service name to secret"
        ) from None
    if not isinstance(found, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in found.items()
    ):
        raise ConfigurationError(
            "PORTICO_AUTH_SERVICE_CLIENT_SECRETS must map service names to non-empty secrets"
        )
    return dict(found)


@dataclass(frozen=True)
class Dependencies:
    """What the outside world gives auth; unit tests pass the in-memory store."""

    uow: UnitOfWorkFactory
    clock: Clock = field(default_factory=SystemClock)
    policies: Policies = field(default_factory=Policies)
    admin_client_id: str = "portico-admin"
    # How often each replica checks whether a successor signing key is due.
    rotation_check_seconds: float = 3600.0
    # IssueServiceToken's limits; None serves without them.
    throttle: IssueThrottle | None = None
    sources: SourceResolver = field(default_factory=SourceResolver)


@dataclass(frozen=True)
class Components:
    """What `serve` runs for auth, and the verifier its interceptor checks tokens with."""

    servicers: list[Servicer]
    subscriptions: list[Subscription]
    background: list[Background]
    verifier: TokenVerifier


def local_jwks(uow: UnitOfWorkFactory, policy: KeyPolicy) -> JwksFetcher:
    """auth's own published keys as a JWK Set, read from its store: no call to itself."""

    async def fetch() -> dict[str, Any]:
        return jwks_of(await handlers.get_jwks(uow, policy))

    return fetch


def build(deps: Dependencies) -> Components:
    """auth's servicer, its jobs and its token verifier on `deps`; no I/O."""
    throttling = None if deps.throttle is None else Throttling(deps.throttle, deps.clock)
    api = AuthApi(deps.policies, deps.admin_client_id, throttling, deps.sources)
    return Components(
        servicers=[
            Servicer(
                auth_pb2.DESCRIPTOR.services_by_name["AuthService"],
                auth_pb2_grpc.add_AuthServiceServicer_to_server,
                AuthServicer(deps.uow, api),
            )
        ],
        subscriptions=[],
        background=[
            key_rotation(deps.uow, deps.policies.keys, deps.rotation_check_seconds),
            lockout_pruning(deps.uow, deps.policies.lockout),
        ],
        verifier=TokenVerifier(local_jwks(deps.uow, deps.policies.keys)),
    )


def field_cipher(rt: Runtime, settings: AuthSettings) -> FieldCipher | None:
    """Client metadata sealed with tenants' data keys from tenancy, if auth knows where it is.

    Auth may start before tenancy (`portico up` gives it tenancy's ready file):
    the address is looked up when the first key is needed.
    """
    address = tenancy_address(settings.tenancy_target, settings.tenancy_target_file)
    if address is None:
        return None
    keys = tenancy_data_keys_found_later(
        address,
        rt.service_tokens,
        cache_seconds=settings.data_key_cache_seconds,
        tls=rt.grpc_tls,
    )
    return FieldCipher(AUTH_SENSITIVE_FIELDS, keys)


async def run(
    settings: AuthSettings,
    *,
    clock: Clock | None = None,
    ready: Callable[[int], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Starts auth: a signing key and the admin client exist before the first RPC.

    `clock`, `ready` (called with the bound gRPC port) and `stop` let tests run
    the real thing in-process.
    """
    config = load_config(settings)
    rt = await Runtime.start(SERVICE, settings, MIGRATIONS, clock=clock)
    encryptor = config.encryptor
    if rt.service_tokens is None:
        # Auth calls tenancy (refused tenants, deletion reports, data keys) as
        # svc-auth, with tokens it signs itself: it has no auth to ask, and needs no
        # secret. Signing reads no client metadata, so it needs no data keys.
        keys_only = uow_factory(
            rt.db, lambda conn, _tenant: AuthPgUnitOfWork(conn, encryptor=encryptor, clock=rt.clock)
        )
        rt.service_tokens = ServiceTokens(
            ServiceIdentity(service_client_id(SERVICE), SecretStr("")),
            partial(own_token, keys_only, config.policies),
        )
    cipher = field_cipher(rt, settings)
    deps = Dependencies(
        uow=uow_factory(
            rt.db,
            lambda conn, _tenant: AuthPgUnitOfWork(
                conn, encryptor=encryptor, clock=rt.clock, cipher=cipher
            ),
        ),
        clock=rt.clock,
        policies=config.policies,
        admin_client_id=config.admin_client_id,
        rotation_check_seconds=config.rotation_check_seconds,
        throttle=IssueThrottle(config.per_client, config.per_source),
        sources=config.sources,
    )
    try:
        key = await handlers.ensure_signing_key(deps.uow, config.policies.keys)
        await handlers.upsert_admin_client(
            deps.uow, config.admin_client_id, config.admin_client_secret
        )
        for service, secret in sorted(config.service_secrets.items()):
            await handlers.upsert_service_client(deps.uow, service, secret)
    except BaseException:
        await rt.close()
        raise
    log.info("signing key ready", extra={"kid": key.kid})
    parts = build(deps)
    await serve(
        rt,
        servicers=parts.servicers,
        subscriptions=parts.subscriptions,
        background=parts.background,
        verifier=parts.verifier,
        ready=ready,
        stop=stop,
        # A deleted tenant's clients go with it (they are platform rows, no tenant_id).
        extra_deletion=partial(delete_tenant_clients, rt.db),
    )


async def own_token(
    uow: UnitOfWorkFactory, policies: Policies, _client_id: str, _secret: str
) -> tuple[str, float]:
    """A token auth signs for itself, in the shape of a token issuer (no credentials)."""
    issued = await handlers.issue_own_token(uow, policies)
    return issued.token, float(issued.ttl_seconds)


def main() -> None:
    settings = AuthSettings()
    bootstrap_process(SERVICE, settings)
    try:
        asyncio.run(run(settings))
    except AuthError as exc:
        # A setting or stored key we cannot start with: say so plainly, exit non-zero.
        log.critical("auth cannot start: %s", exc)
        raise SystemExit(f"portico-auth cannot start: {exc}") from None
