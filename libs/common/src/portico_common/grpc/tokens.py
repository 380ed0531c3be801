"""Verification of Portico service tokens (Ed25519 JWTs) against auth's JWKS."""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from portico_common.errors import UnauthenticatedError
from portico_common.tenants import ALL_TENANTS

ISSUER = "portico-auth"
AUDIENCE = "portico"
ALGORITHM = "Ed25519"  # RFC 9864's fully specified name, not the polymorphic EdDSA

JwksFetcher = Callable[[], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Claims:
    """Who is calling, for which tenant, with which scopes and roles."""

    subject: str
    tenant_id: str
    scopes: tuple[str, ...]
    expires_at: int
    token_id: str
    # The caller's roles (the `roles` claim, an array of strings); none when absent.
    roles: tuple[str, ...] = ()

    def allows_tenant(self, tenant_id: str) -> bool:
        return self.tenant_id in (ALL_TENANTS, tenant_id)


current_claims: contextvars.ContextVar[Claims | None] = contextvars.ContextVar(
    "portico_claims", default=None
)


def claims_from_token(token: str, keys: KeySet, *, now: float | None = None) -> Claims:
    """Decodes and validates a token; raises UnauthenticatedError with the reason."""
    try:
        decoded = jwt.decode(token, keys, algorithms=[ALGORITHM])
    except (JoseError, ValueError) as exc:
        raise UnauthenticatedError(f"invalid token: {exc}") from exc
    registry = jwt.JWTClaimsRegistry(
        now=int(now if now is not None else time.time()),
        leeway=5,
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": AUDIENCE},
        sub={"essential": True},
        exp={"essential": True},
        tenant={"essential": True},
    )
    try:
        registry.validate(decoded.claims)
    except JoseError as exc:
        raise UnauthenticatedError(f"invalid token claims: {exc}") from exc
    claims = decoded.claims
    scope = claims.get("scope", "")
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise UnauthenticatedError("invalid token claims: roles must be an array of strings")
    return Claims(
        subject=str(claims["sub"]),
        tenant_id=str(claims["tenant"]),
        scopes=tuple(str(scope).split()) if scope else (),
        expires_at=int(claims["exp"]),
        token_id=str(claims.get("jti", "")),
        roles=tuple(roles),
    )


class TokenVerifier:
    """Verifies bearer tokens; refetches the JWKS on an unknown key id (rotation)."""

    def __init__(
        self,
        fetch_jwks: JwksFetcher,
        *,
        min_refresh_seconds: float = 5.0,
        max_age_seconds: float = 600.0,
    ) -> None:
        self._fetch = fetch_jwks
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._min_refresh = min_refresh_seconds
        # A key auth withdraws (compromise) stops being trusted within this age.
        self._max_age = max_age_seconds
        self._lock = asyncio.Lock()

    async def verify(self, token: str) -> Claims:
        keys = await self._key_set(force=False)
        try:
            return claims_from_token(token, keys)
        except UnauthenticatedError:
            # Maybe signed by a key published after our last fetch.
            if time.monotonic() - self._fetched_at < self._min_refresh:
                raise
            keys = await self._key_set(force=True)
            return claims_from_token(token, keys)

    async def _key_set(self, *, force: bool) -> KeySet:
        async with self._lock:
            stale = time.monotonic() - self._fetched_at > self._max_age
            if self._keys is None or force or stale:
                try:
                    jwks = await self._fetch()
                except Exception as exc:
                    raise UnauthenticatedError(f"cannot fetch signing keys: {exc}") from exc
                try:
                    self._keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
                except (JoseError, ValueError, TypeError, KeyError) as exc:
                    raise UnauthenticatedError(f"unusable signing keys from auth: {exc}") from exc
                self._fetched_at = time.monotonic()
            return self._keys
