"""Clients that exchange credentials for service tokens, and what each may ask for."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from portico_auth.domain.credentials import MIN_SECRET_LENGTH
from portico_auth.errors import (
    InvalidClientError,
    InvalidTokenRequestError,
    ScopeNotAllowedError,
    TenantNotAllowedError,
)
from portico_common.authz.policy import is_scope, scope_covers
from portico_common.tenants import (
    ALL_TENANTS,
    InvalidTenantIdError,
    is_valid_tenant_id,
    require_tenant_id,
)

# The admin client may ask for any scope. Scopes narrow what a token's roles
# grant ("*", a permission, or "<resource>.*"); they never widen it.
PLATFORM_SCOPES: tuple[str, ...] = ("*",)

# The platform admin's role; roles are carried in tokens (the `roles` claim).
PLATFORM_ADMIN_ROLE = "platform-admin"

_ROLE = re.compile(r"^[a-z0-9][a-z0-9._:-]{0,63}$")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class Grant:
    """What an authenticated, authorized client gets a token for."""

    client_id: str
    tenant_id: str
    scopes: tuple[str, ...]
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Client:
    """A registered client: its secret's hash, the tenants and scopes it may use, its roles."""

    client_id: str
    secret_hash: str
    tenants: frozenset[str]  # containing ALL_TENANTS means every tenant
    scopes: frozenset[str]
    roles: frozenset[str] = frozenset()

    @classmethod
    def register(
        cls,
        client_id: str,
        secret_hash: str,
        tenants: Iterable[str],
        scopes: Iterable[str],
        roles: Iterable[str] = (),
    ) -> Client:
        """A validated client; raises InvalidClientError naming the rule broken."""
        if not _CLIENT_ID.match(client_id):
            raise InvalidClientError(
                f"client_id {client_id!r} must be 1-128 characters of A-Z a-z 0-9 . _ -"
            )
        allowed_tenants = frozenset(tenants)
        bad = [t for t in allowed_tenants if t != ALL_TENANTS and not is_valid_tenant_id(t)]
        if not allowed_tenants or bad:
            raise InvalidClientError(f"client {client_id!r}: invalid allowed tenants {bad}")
        allowed_scopes = frozenset(scopes)
        bad = [s for s in allowed_scopes if not is_scope(s)]
        if bad:
            raise InvalidClientError(f"client {client_id!r}: invalid scopes {bad}")
        client_roles = frozenset(roles)
        bad = sorted(r for r in client_roles if not _ROLE.match(r))
        if bad:
            raise InvalidClientError(
                f"client {client_id!r}: invalid roles {bad}"
                " (1-64 characters of a-z 0-9 . _ : -, starting with a letter or digit)"
            )
        return cls(client_id, secret_hash, allowed_tenants, allowed_scopes, client_roles)

    def grant(self, tenant_id: str, requested_scopes: Iterable[str]) -> Grant:
        """Authorizes a request of this (already authenticated) client.

        No scopes requested means every scope the client is allowed (RFC 6749's
        pre-defined default).
        """
        requested = validate_token_request(tenant_id, requested_scopes)
        if ALL_TENANTS not in self.tenants and tenant_id not in self.tenants:
            what = "platform-wide tokens" if tenant_id == ALL_TENANTS else f"tenant {tenant_id!r}"
            raise TenantNotAllowedError(f"client {self.client_id!r} may not act for {what}")
        excess = [s for s in requested if not any(scope_covers(a, s) for a in self.scopes)]
        if excess:
            raise ScopeNotAllowedError(
                f"client {self.client_id!r} is not allowed scopes {' '.join(excess)}"
            )
        return Grant(
            self.client_id,
            tenant_id,
            requested or tuple(sorted(self.scopes)),
            tuple(sorted(self.roles)),
        )


def validate_token_request(tenant_id: str, scopes: Iterable[str]) -> tuple[str, ...]:
    """The requested scopes, de-duplicated in order; raises on a malformed request."""
    if not tenant_id:
        raise InvalidTokenRequestError("tenant_id is required (a tenant id, or '*')")
    if tenant_id != ALL_TENANTS:
        try:
            require_tenant_id(tenant_id)
        except InvalidTenantIdError as exc:
            # One kind of error for every malformed part of a token request.
            raise InvalidTokenRequestError(str(exc)) from exc
    unique = tuple(dict.fromkeys(scopes))
    bad = [s for s in unique if not is_scope(s)]
    if bad:
        raise InvalidTokenRequestError(f"invalid scope values {bad!r}")
    return unique


def validate_new_secret(secret: str) -> None:
    if len(secret) < MIN_SECRET_LENGTH:
        raise InvalidClientError(
            f"a client secret must be at least {MIN_SECRET_LENGTH} characters long"
        )
