"""Client administration: register, read, change roles, disable, enable, rotate secrets.

The kernel's interceptor has admitted the caller by permission; the rules of
`domain.administration` decide which clients it may touch and what it may
give them. The platform admin client itself is managed by auth's settings,
so its roles, state and secret cannot be changed here.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from portico_auth.app.handlers import Policies
from portico_auth.app.ports import AuthUnitOfWork, UnitOfWorkFactory
from portico_auth.domain import credentials
from portico_auth.domain.administration import (
    Caller,
    check_may_assign,
    check_may_manage,
    check_may_see,
)
from portico_auth.domain.clients import (
    SERVICE_CLIENT_PREFIX,
    Client,
    client_metadata,
    validate_new_secret,
)
from portico_auth.domain.lockout import FailedAttempts
from portico_auth.errors import (
    ClientExistsError,
    InvalidClientError,
    ProtectedClientError,
    TenantNotAllowedError,
)
from portico_common.tenants import ALL_TENANTS, require_tenant_id

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
# 32 random bytes, base64url: far beyond guessing, and over the 16-character minimum.
_GENERATED_SECRET_BYTES = 32


@dataclass(frozen=True)
class RegisterClient:
    """A new client: its secret (stored hashed), allowed tenants and scopes, and roles."""

    client_id: str
    client_secret: str
    tenants: Sequence[str]
    scopes: Sequence[str]
    roles: Sequence[str]
    # Free-form pairs about the client; only for a client of exactly one tenant.
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ClientView:
    """A client as the API shows it: never a secret, with its lockout if one is running,
    and its metadata."""

    client: Client
    locked_until: datetime | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RotatedSecret:
    client: Client
    secret: str


async def register_client(
    uow: UnitOfWorkFactory, policies: Policies, *, caller: Caller, command: RegisterClient
) -> ClientView:
    """Registers a client with no more than the caller holds; ALREADY_EXISTS if the id is taken."""
    if command.client_id.startswith(SERVICE_CLIENT_PREFIX):
        raise InvalidClientError(
            f"client ids starting with {SERVICE_CLIENT_PREFIX!r} are the services' own;"
            " auth's settings define them"
        )
    validate_new_secret(command.client_secret)
    # Validate and authorize before the (slow) hash, so a refusal is fast.
    draft = Client.register(
        command.client_id,
        "",
        command.tenants,
        command.scopes,
        command.roles,
        policy=policies.roles,
    )
    metadata = client_metadata(draft, command.metadata)
    check_may_assign(caller, draft.tenants, draft.roles, policies.roles)
    secret_hash = await asyncio.to_thread(credentials.hash_secret, command.client_secret)
    client = replace(draft, secret_hash=secret_hash)
    async with uow(ALL_TENANTS) as tx:
        if not await tx.clients.insert(client):
            raise ClientExistsError(f"client {command.client_id!r} is registered already")
        if metadata:
            # In the registration's transaction: a client that cannot get its
            # metadata sealed is not registered at all.
            await tx.client_metadata.put(client, metadata)
    return ClientView(client, metadata=metadata)


async def get_client(uow: UnitOfWorkFactory, *, caller: Caller, client_id: str) -> ClientView:
    async with uow(ALL_TENANTS) as tx:
        client = check_may_see(caller, await tx.clients.get(client_id), client_id)
        return await _view(tx, client)


async def list_clients(
    uow: UnitOfWorkFactory,
    *,
    caller: Caller,
    tenant_id: str,
    page_size: int = 0,
    page_token: str = "",
) -> tuple[list[ClientView], str]:
    """One page of a tenant's clients (or all, for a platform caller) and the next page's token."""
    tenant: str | None = tenant_id or (None if caller.platform else caller.tenant_id)
    if tenant is not None:
        require_tenant_id(tenant)
        if not caller.platform and tenant != caller.tenant_id:
            raise TenantNotAllowedError(
                f"a token for tenant {caller.tenant_id!r} cannot list the clients of {tenant!r}"
            )
    limit = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    async with uow(ALL_TENANTS) as tx:
        clients = await tx.clients.list(tenant, after=page_token, limit=limit + 1)
        page = clients[:limit]
        locks = await tx.lockouts.get_many([c.client_id for c in page])
        metadata = await tx.client_metadata.get_many(page)
        now = tx.clock.now()
    views = [
        ClientView(c, _locked_until(locks.get(c.client_id), now), metadata.get(c.client_id, {}))
        for c in page
    ]
    more = len(clients) > limit
    return views, (page[-1].client_id if more and page else "")


async def update_client_roles(
    uow: UnitOfWorkFactory,
    policies: Policies,
    *,
    caller: Caller,
    client_id: str,
    roles: Sequence[str],
    admin_client_id: str,
) -> ClientView:
    """Replaces a client's roles; the caller must hold the old ones and the new ones."""
    _refuse_admin(client_id, admin_client_id, "change the roles of")
    async with uow(ALL_TENANTS) as tx:
        client = check_may_manage(
            caller, await tx.clients.get(client_id), client_id, policies.roles
        )
        updated = client.with_roles(roles, policies.roles)
        check_may_assign(caller, updated.tenants, updated.roles, policies.roles)
        if updated != client:
            await tx.clients.update(updated)
        return await _view(tx, updated)


async def set_client_disabled(
    uow: UnitOfWorkFactory,
    policies: Policies,
    *,
    caller: Caller,
    client_id: str,
    disabled: bool,
    admin_client_id: str,
) -> ClientView:
    """Disables or enables a client; enabling also lifts a lockout. Idempotent."""
    if disabled:
        _refuse_admin(client_id, admin_client_id, "disable")
    async with uow(ALL_TENANTS) as tx:
        client = check_may_manage(
            caller, await tx.clients.get(client_id), client_id, policies.roles
        )
        updated = client.with_disabled(disabled)
        if updated != client:
            await tx.clients.update(updated)
        if not disabled:
            await tx.lockouts.clear(client_id)
        return await _view(tx, updated)


async def rotate_client_secret(
    uow: UnitOfWorkFactory,
    policies: Policies,
    *,
    caller: Caller,
    client_id: str,
    overlap_seconds: int,
    admin_client_id: str,
) -> RotatedSecret:
    """A new generated secret for the client; the old one works `overlap_seconds` more."""
    _refuse_admin(client_id, admin_client_id, "rotate the secret of")
    secret = secrets.token_urlsafe(_GENERATED_SECRET_BYTES)
    secret_hash = await asyncio.to_thread(credentials.hash_secret, secret)
    async with uow(ALL_TENANTS) as tx:
        client = check_may_manage(
            caller, await tx.clients.get(client_id), client_id, policies.roles
        )
        rotated = client.with_secret(
            secret_hash, now=tx.clock.now(), overlap=timedelta(seconds=overlap_seconds)
        )
        await tx.clients.update(rotated)
    return RotatedSecret(rotated, secret)


def _refuse_admin(client_id: str, admin_client_id: str, what: str) -> None:
    if client_id == admin_client_id:
        raise ProtectedClientError(
            f"cannot {what} the platform admin client {client_id!r}: auth's settings"
            " (PORTICO_AUTH_ADMIN_CLIENT_ID and PORTICO_AUTH_ADMIN_CLIENT_SECRET) define it"
        )
    if client_id.startswith(SERVICE_CLIENT_PREFIX):
        raise ProtectedClientError(
            f"cannot {what} the service client {client_id!r}: auth's settings"
            " (PORTICO_AUTH_SERVICE_CLIENT_SECRETS) define it"
        )


async def _managed(
    tx: AuthUnitOfWork, caller: Caller, client_id: str, policies: Policies
) -> Client:
    return check_may_manage(caller, await tx.clients.get(client_id), client_id, policies.roles)


async def _view(tx: AuthUnitOfWork, client: Client) -> ClientView:
    attempts = await tx.lockouts.get(client.client_id)
    metadata = await tx.client_metadata.get_many([client])
    return ClientView(
        client, _locked_until(attempts, tx.clock.now()), metadata.get(client.client_id, {})
    )


def _locked_until(attempts: FailedAttempts | None, now: datetime) -> datetime | None:
    return attempts.locked_until if attempts is not None and attempts.locked(now) else None
