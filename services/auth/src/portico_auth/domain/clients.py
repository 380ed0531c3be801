"""Clients that exchange credentials for service tokens, and what each may ask for."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from portico_auth.domain.credentials import MIN_SECRET_LENGTH
from portico_auth.errors import (
    ClientDisabledError,
    InvalidClientError,
    InvalidTokenRequestError,
    ScopeNotAllowedError,
    TenantNotAllowedError,
    UnknownRoleError,
)
from portico_common.authz.policy import RolePolicy, default_policy, is_scope, scope_covers
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
# The role of the services' own clients (what one service may ask of another).
SERVICE_ROLE = "service"
SERVICE_CLIENT_PREFIX = "svc-"


def service_client_id(service: str) -> str:
    """The client id of a service's own identity: `svc-<service>`."""
    return f"{SERVICE_CLIENT_PREFIX}{service}"


# How long a rotated-out secret may keep working at most: long enough for a
# rolling restart of the services that hold it, short enough to stay an overlap.
MAX_SECRET_OVERLAP = timedelta(days=1)

_CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

# A client's metadata: free-form pairs about it (owner, purpose, ticket, ...),
# bounded so a registration cannot smuggle in a document.
MAX_METADATA_PAIRS = 32
MAX_METADATA_VALUE = 1024
_METADATA_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$")


def is_client_id(client_id: str) -> bool:
    """Whether a string could name a client (so a failed attempt on it is worth recording)."""
    return bool(_CLIENT_ID.match(client_id))


@dataclass(frozen=True)
class Grant:
    """What an authenticated, authorized client gets a token for."""

    client_id: str
    tenant_id: str
    scopes: tuple[str, ...]
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Client:
    """A registered client: its secret's hash, the tenants and scopes it may use, its roles.

    A rotated secret may keep working beside the new one until
    `previous_secret_expires_at`; a disabled client gets no tokens.
    """

    client_id: str
    secret_hash: str
    tenants: frozenset[str]  # containing ALL_TENANTS means every tenant
    scopes: frozenset[str]
    roles: frozenset[str] = frozenset()
    disabled: bool = False
    previous_secret_hash: str = ""
    previous_secret_expires_at: datetime | None = None

    @classmethod
    def register(
        cls,
        client_id: str,
        secret_hash: str,
        tenants: Iterable[str],
        scopes: Iterable[str],
        roles: Iterable[str] = (),
        *,
        policy: RolePolicy | None = None,
    ) -> Client:
        """A validated client; raises InvalidClientError naming the rule broken.

        Roles must be ones the role table defines (UnknownRoleError names the
        others); the use cases pass the policy they run with, the kernel's by default.
        """
        if not is_client_id(client_id):
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
            raise InvalidClientError(
                f"client {client_id!r}: invalid scopes {bad}"
                " (a scope is '*', a permission such as 'rollouts.read', or 'rollouts.*')"
            )
        roles_held = known_roles(roles, policy or default_policy())
        return cls(client_id, secret_hash, allowed_tenants, allowed_scopes, roles_held)

    def secret_hashes(self, now: datetime) -> tuple[str, ...]:
        """The hashes a presented secret may match now: the current one, then a rotated one."""
        expires = self.previous_secret_expires_at
        if self.previous_secret_hash and expires is not None and now < expires:
            return (self.secret_hash, self.previous_secret_hash)
        return (self.secret_hash,)

    def with_secret(self, secret_hash: str, *, now: datetime, overlap: timedelta) -> Client:
        """This client after a secret rotation; the old secret works for `overlap` more."""
        if not timedelta(0) <= overlap <= MAX_SECRET_OVERLAP:
            raise InvalidClientError(
                f"overlap_seconds must be between 0 and {int(MAX_SECRET_OVERLAP.total_seconds())}"
            )
        if not overlap:
            return replace(
                self,
                secret_hash=secret_hash,
                previous_secret_hash="",
                previous_secret_expires_at=None,
            )
        return replace(
            self,
            secret_hash=secret_hash,
            previous_secret_hash=self.secret_hash,
            previous_secret_expires_at=now + overlap,
        )

    def with_roles(self, roles: Iterable[str], policy: RolePolicy) -> Client:
        return replace(self, roles=known_roles(roles, policy))

    def with_disabled(self, disabled: bool) -> Client:
        return replace(self, disabled=disabled)

    def grant(self, tenant_id: str, requested_scopes: Iterable[str]) -> Grant:
        """Authorizes a request of this (already authenticated) client.

        No scopes requested means every scope the client is allowed (RFC 6749's
        pre-defined default).
        """
        if self.disabled:
            raise ClientDisabledError(f"client {self.client_id!r} is disabled")
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


def metadata_tenant(client: Client) -> str | None:
    """The tenant whose data key seals the client's metadata: its one tenant, else None.

    A platform client ("*") or one of several tenants has no single owner, so no
    tenant's key (and no tenant's crypto-shredding) could cover its metadata.
    """
    if len(client.tenants) != 1:
        return None
    (tenant,) = client.tenants
    return None if tenant == ALL_TENANTS else tenant


def client_metadata(client: Client, metadata: Mapping[str, str]) -> dict[str, str]:
    """The metadata a client may carry, checked; InvalidClientError names the rule broken."""
    if not metadata:
        return {}
    if metadata_tenant(client) is None:
        raise InvalidClientError(
            f"client {client.client_id!r}: metadata is sealed with the tenant's data key,"
            " so only a client of exactly one tenant (not '*') may carry it"
        )
    if len(metadata) > MAX_METADATA_PAIRS:
        raise InvalidClientError(
            f"client {client.client_id!r}: {len(metadata)} metadata pairs;"
            f" at most {MAX_METADATA_PAIRS}"
        )
    bad = sorted(k for k in metadata if not _METADATA_KEY.match(k))
    if bad:
        raise InvalidClientError(
            f"client {client.client_id!r}: invalid metadata keys {bad}"
            " (1-63 characters of A-Z a-z 0-9 . _ / -, starting with a letter or digit)"
        )
    long = sorted(k for k, v in metadata.items() if len(v) > MAX_METADATA_VALUE)
    if long:
        raise InvalidClientError(
            f"client {client.client_id!r}: metadata values of {long} are longer than"
            f" {MAX_METADATA_VALUE} characters"
        )
    if any("\x00" in v for v in metadata.values()):
        raise InvalidClientError(f"client {client.client_id!r}: a metadata value holds NUL")
    return dict(metadata)


def known_roles(roles: Iterable[str], policy: RolePolicy) -> frozenset[str]:
    """The roles as a set; UnknownRoleError names every one the role table lacks."""
    wanted = frozenset(roles)
    unknown = sorted(r for r in wanted if r not in policy.roles)
    if unknown:
        raise UnknownRoleError(unknown)
    return wanted


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
