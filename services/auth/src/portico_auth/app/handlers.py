"""Auth use cases: signing keys, the admin client, issuing and verifying tokens."""

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
    Client,
    validate_new_secret,
    validate_token_request,
)
from portico_auth.domain.signing_keys import (
    KeyPolicy,
    SigningKey,
    active_key,
    needs_new_key,
    published_keys,
    retired_keys,
)
from portico_auth.domain.tokens import IssuedToken, TokenPolicy, issue_token, verify_token
from portico_auth.errors import (
    ClientExistsError,
    InvalidClientCredentialsError,
    InvalidTokenError,
    NotPlatformAdminError,
)
from portico_common.grpc.tokens import Claims
from portico_common.tenants import ALL_TENANTS

# Deliberately the same for an unknown client and a wrong secret.
BAD_CREDENTIALS = "invalid client credentials"


@dataclass(frozen=True)
class Policies:
    tokens: TokenPolicy = field(default_factory=TokenPolicy)
    keys: KeyPolicy = field(default_factory=KeyPolicy)


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


async def upsert_admin_client(uow: UnitOfWorkFactory, client_id: str, secret: str) -> Client:
    """Registers (or re-keys) the platform admin: every tenant, every scope, platform-admin."""
    validate_new_secret(secret)
    secret_hash = await asyncio.to_thread(credentials.hash_secret, secret)
    client = Client.register(
        client_id, secret_hash, [ALL_TENANTS], PLATFORM_SCOPES, [PLATFORM_ADMIN_ROLE]
    )
    async with uow(ALL_TENANTS) as tx:
        await tx.clients.upsert(client)
    return client


async def authenticate_client(uow: UnitOfWorkFactory, client_id: str, secret: str) -> Client:
    """The client if the secret matches; one generic error otherwise, in about the same time."""
    async with uow(ALL_TENANTS) as tx:
        client = await tx.clients.get(client_id) if client_id else None
    if client is None:
        await asyncio.to_thread(credentials.burn_verification_time, secret)
        raise InvalidClientCredentialsError(BAD_CREDENTIALS)
    if not await asyncio.to_thread(credentials.verify_secret, secret, client.secret_hash):
        raise InvalidClientCredentialsError(BAD_CREDENTIALS)
    return client


async def issue_service_token(
    uow: UnitOfWorkFactory,
    policies: Policies,
    *,
    client_id: str,
    client_secret: str,
    tenant_id: str,
    scopes: Sequence[str],
    ttl_seconds: int,
) -> IssuedToken:
    """Exchanges client credentials for a token for one tenant (or "*") and some scopes."""
    validate_token_request(tenant_id, scopes)
    client = await authenticate_client(uow, client_id, client_secret)
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


@dataclass(frozen=True)
class RegisterClient:
    """A new client: its secret (stored hashed), allowed tenants and scopes, and roles."""

    client_id: str
    client_secret: str
    tenants: Sequence[str]
    scopes: Sequence[str]
    roles: Sequence[str]


async def register_client(
    uow: UnitOfWorkFactory,
    policy: KeyPolicy,
    *,
    bearer: str,
    admin_client_id: str,
    command: RegisterClient,
) -> Client:
    """Registers a client; only the admin client with a platform ("*") token may.

    auth's RPCs are public in the interceptor, so the caller's token is checked
    here against auth's own published keys.
    """
    if not bearer:
        raise InvalidTokenError("missing bearer token (metadata 'authorization')")
    caller = await verify_service_token(uow, policy, bearer)
    if caller.subject != admin_client_id or caller.tenant_id != ALL_TENANTS:
        raise NotPlatformAdminError(
            f"only the platform admin client {admin_client_id!r} with a platform ('*') token"
            f" may register clients; the caller is {caller.subject!r} for tenant"
            f" {caller.tenant_id!r}"
        )
    validate_new_secret(command.client_secret)
    # Validate before the (slow) hash, so bad input fails fast.
    Client.register(command.client_id, "", command.tenants, command.scopes, command.roles)
    secret_hash = await asyncio.to_thread(credentials.hash_secret, command.client_secret)
    client = Client.register(
        command.client_id, secret_hash, command.tenants, command.scopes, command.roles
    )
    async with uow(ALL_TENANTS) as tx:
        if not await tx.clients.insert(client):
            raise ClientExistsError(f"client {command.client_id!r} is registered already")
    return client
