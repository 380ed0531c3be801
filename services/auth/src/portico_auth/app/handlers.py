"""Auth use cases: signing keys, the admin client, issuing and verifying tokens.

Managing other clients (register, roles, disable, rotate) is in `app.clients`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from portico_auth.app.ports import UnitOfWorkFactory
from portico_auth.domain import credentials
from portico_auth.domain.clients import (
    PLATFORM_ADMIN_ROLE,
    PLATFORM_SCOPES,
    SERVICE_ROLE,
    Client,
    Grant,
    is_client_id,
    service_client_id,
    validate_new_secret,
    validate_token_request,
)
from portico_auth.domain.lockout import LockoutPolicy, record_failure
from portico_auth.domain.rate_limits import DEFAULT_PER_CLIENT, DEFAULT_PER_SOURCE, IssueThrottle
from portico_auth.domain.signing_keys import (
    KeyPolicy,
    SigningKey,
    active_key,
    needs_new_key,
    published_keys,
    retired_keys,
)
from portico_auth.domain.tokens import IssuedToken, TokenPolicy, issue_token, verify_token
from portico_auth.errors import InvalidClientCredentialsError
from portico_common.authz.policy import RolePolicy, default_policy
from portico_common.clock import Clock
from portico_common.grpc.tokens import Claims
from portico_common.tenants import ALL_TENANTS

# Auth's own name, for the token it signs itself (svc-auth).
AUTH_SERVICE = "auth"

# Deliberately the same for an unknown client and a wrong secret.
BAD_CREDENTIALS = "invalid client credentials"


@dataclass(frozen=True)
class Policies:
    tokens: TokenPolicy = field(default_factory=TokenPolicy)
    keys: KeyPolicy = field(default_factory=KeyPolicy)
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)
    roles: RolePolicy = field(default_factory=default_policy)


@dataclass(frozen=True)
class Throttling:
    """The rate limits of IssueServiceToken, on the service's clock."""

    limits: IssueThrottle
    clock: Clock

    @classmethod
    def default(cls, clock: Clock) -> Throttling:
        return cls(IssueThrottle(DEFAULT_PER_CLIENT, DEFAULT_PER_SOURCE), clock)

    def admit(self, client_id: str, source: str) -> None:
        self.limits.admit(client_id, source, self.clock.now())


async def ensure_signing_key(uow: UnitOfWorkFactory, policy: KeyPolicy) -> SigningKey:
    """Returns the key that signs now, creating a successor when one is due.

    Replicas serialize on a lock, so two starting together create one key.
    Retired keys are deleted: their private halves have no use left.
    """
    async with uow(ALL_TENANTS) as tx:
        await tx.keys.lock()
        keys = await tx.keys.list()
        now = tx.clock.now()
        for old in retired_keys(keys, now, policy):
            await tx.keys.remove(old.kid)
        current = active_key(keys, now)
        if current is None or needs_new_key(keys, now, policy):
            current = SigningKey.generate(now, policy)
            await tx.keys.add(current)
    return current


async def upsert_admin_client(
    uow: UnitOfWorkFactory, client_id: str, secret: str, policy: RolePolicy | None = None
) -> Client:
    """Registers (or re-keys) the platform admin: every tenant, every scope, platform-admin.

    The settings are the truth about this client: starting auth enables it,
    ends any secret overlap and lifts a lockout (the operator holding the
    secret is the way back in when the admin client is locked out).
    """
    validate_new_secret(secret)
    secret_hash = await asyncio.to_thread(credentials.hash_secret, secret)
    client = Client.register(
        client_id,
        secret_hash,
        [ALL_TENANTS],
        PLATFORM_SCOPES,
        [PLATFORM_ADMIN_ROLE],
        policy=policy or default_policy(),
    )
    async with uow(ALL_TENANTS) as tx:
        await tx.clients.upsert(client)
        await tx.lockouts.clear(client_id)
    return client


async def upsert_service_client(
    uow: UnitOfWorkFactory, service: str, secret: str, policy: RolePolicy | None = None
) -> Client:
    """Registers (or re-keys) a service's own client: every tenant, role `service`.

    Like the admin client, the settings are the truth: a start re-keys it,
    enables it and lifts a lockout.
    """
    validate_new_secret(secret)
    secret_hash = await asyncio.to_thread(credentials.hash_secret, secret)
    client = Client.register(
        service_client_id(service),
        secret_hash,
        [ALL_TENANTS],
        (),
        [SERVICE_ROLE],
        policy=policy or default_policy(),
    )
    async with uow(ALL_TENANTS) as tx:
        await tx.clients.upsert(client)
        await tx.lockouts.clear(client.client_id)
    return client


async def authenticate_client(
    uow: UnitOfWorkFactory, policy: LockoutPolicy, client_id: str, secret: str
) -> Client:
    """The client if the secret matches; one generic error otherwise, in about the same time.

    A locked-out client id is refused before any secret is checked; a bad
    secret (or an unknown client id) counts towards the lockout, persisted,
    so every replica and every restart sees the same count.
    """
    recordable = is_client_id(client_id)
    async with uow(ALL_TENANTS) as tx:
        now = tx.clock.now()
        attempts = await tx.lockouts.get(client_id) if recordable else None
        if attempts is not None:
            attempts.check_not_locked(now)
        client = await tx.clients.get(client_id) if recordable else None
    if client is None:
        await asyncio.to_thread(credentials.burn_verification_time, secret)
    if client is None or not await _matches(secret, client.secret_hashes(now)):
        if recordable:
            async with uow(ALL_TENANTS) as tx:
                await tx.lockouts.lock(client_id)
                previous = await tx.lockouts.get(client_id)
                await tx.lockouts.save(record_failure(previous, client_id, tx.clock.now(), policy))
        raise InvalidClientCredentialsError(BAD_CREDENTIALS)
    if attempts is not None:
        async with uow(ALL_TENANTS) as tx:
            await tx.lockouts.clear(client_id)
    return client


async def _matches(secret: str, hashes: Sequence[str]) -> bool:
    for encoded in hashes:
        if await asyncio.to_thread(credentials.verify_secret, secret, encoded):
            return True
    return False


async def issue_service_token(
    uow: UnitOfWorkFactory,
    policies: Policies,
    *,
    client_id: str,
    client_secret: str,
    tenant_id: str,
    scopes: Sequence[str],
    ttl_seconds: int,
    throttling: Throttling | None = None,
    source: str = "",
) -> IssuedToken:
    """Exchanges client credentials for a token for one tenant (or "*") and some scopes.

    In order: the request's form, the rate limits (per `source`, then per
    client id), the lockout, the secret, then whether the client is enabled and
    may have this tenant and these scopes.
    """
    validate_token_request(tenant_id, scopes)
    if throttling is not None:
        throttling.admit(client_id, source or "unknown")
    client = await authenticate_client(uow, policies.lockout, client_id, client_secret)
    grant = client.grant(tenant_id, scopes)
    async with uow(ALL_TENANTS) as tx:
        now = tx.clock.now()
        key = active_key(await tx.keys.list(), now)
    if key is None:  # the rotation loop has not caught up: do its job now
        key = await ensure_signing_key(uow, policies.keys)
    return issue_token(
        grant,
        key,
        now=now,
        ttl_seconds=policies.tokens.ttl_for(ttl_seconds),
        token_id=uuid.uuid4().hex,
    )


async def issue_own_token(uow: UnitOfWorkFactory, policies: Policies) -> IssuedToken:
    """A token auth signs for itself (`svc-auth`, every tenant, role `service`).

    Auth calls tenancy like every service does, but has no auth to ask: it
    holds the signing keys, so it needs no client or secret of its own.
    """
    async with uow(ALL_TENANTS) as tx:
        now = tx.clock.now()
        key = active_key(await tx.keys.list(), now)
    if key is None:
        key = await ensure_signing_key(uow, policies.keys)
    grant = Grant(service_client_id(AUTH_SERVICE), ALL_TENANTS, (), (SERVICE_ROLE,))
    return issue_token(
        grant, key, now=now, ttl_seconds=policies.tokens.ttl_for(0), token_id=uuid.uuid4().hex
    )


async def get_jwks(uow: UnitOfWorkFactory, policy: KeyPolicy) -> list[SigningKey]:
    """Every key not yet retired, newest first."""
    async with uow(ALL_TENANTS) as tx:
        return published_keys(await tx.keys.list(), tx.clock.now(), policy)


async def verify_service_token(uow: UnitOfWorkFactory, policy: KeyPolicy, token: str) -> Claims:
    """The claims of a valid token; InvalidTokenError with the reason otherwise."""
    async with uow(ALL_TENANTS) as tx:
        now = tx.clock.now()
        keys = published_keys(await tx.keys.list(), now, policy)
    return verify_token(token, keys, now=now)


async def prune_lockouts(uow: UnitOfWorkFactory, policy: LockoutPolicy) -> int:
    """Deletes lockout records that no longer matter; returns how many."""
    async with uow(ALL_TENANTS) as tx:
        now = tx.clock.now()
        return await tx.lockouts.remove_expired(now, now - policy.window)
