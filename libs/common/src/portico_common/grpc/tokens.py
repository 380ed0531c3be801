"""Verification of Portico service tokens (Ed25519 JWTs) against auth's JWKS."""

from __future__ import annotations

import asyncio
import base64
import contextvars
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from portico_common.errors import UnauthenticatedError, UnavailableError
from portico_common.tenants import ALL_TENANTS

ISSUER = "portico-auth"
AUDIENCE = "portico"
ALGORITHM = "Ed25519"  # RFC 9864's fully specified name, not the polymorphic EdDSA

JwksFetcher = Callable[[], Awaitable[dict[str, Any]]]

log = logging.getLogger(__name__)

# Far above a real protected header (about 100 characters); joserfc refuses more too.
_MAX_HEADER = 1024


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


def _reason(exc: Exception) -> str:
    """joserfc's error code with its description when it has one ("bad_signature")."""
    if isinstance(exc, JoseError):
        return f"{exc.error}: {exc.description}" if exc.description else exc.error
    return str(exc)


def claims_from_token(token: str, keys: KeySet, *, now: float | None = None) -> Claims:
    """Decodes and validates a token; raises UnauthenticatedError with the reason."""
    try:
        decoded = jwt.decode(token, keys, algorithms=[ALGORITHM])
    except (JoseError, ValueError) as exc:
        raise UnauthenticatedError(f"invalid token: {_reason(exc)}") from exc
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
        raise UnauthenticatedError(f"invalid token claims: {_reason(exc)}") from exc
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
    """Verifies bearer tokens against auth's key set, fetched and cached here.

    - The set is refreshed when older than `max_age_seconds` (so a key auth withdraws
      stops being trusted within that age), and refetched early when a token names a
      key id the set lacks (rotation), at most once per `min_refresh_seconds`
      whatever the tokens say, so a flood of forged kids cannot hammer auth.
    - One fetch at a time: verifications that need keys while a fetch runs share
      it; no lock is held while it runs, and a verification that can use the
      cached set does not wait for a refresh.
    - When auth cannot be reached, the last good set keeps verifying for
      `stale_seconds` after it was fetched; beyond that (or with no set at all)
      tokens are refused with UNAVAILABLE naming auth: the caller is not at
      fault, and may retry.
    """

    def __init__(
        self,
        fetch_jwks: JwksFetcher,
        *,
        min_refresh_seconds: float = 5.0,
        max_age_seconds: float = 600.0,
        stale_seconds: float = 3600.0,
        fetch_timeout_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 <= min_refresh_seconds <= max_age_seconds <= stale_seconds:
            raise ValueError(
                "need 0 <= min_refresh_seconds <= max_age_seconds <= stale_seconds, got "
                f"{min_refresh_seconds}, {max_age_seconds}, {stale_seconds}"
            )
        self._fetch = fetch_jwks
        self._min_refresh = min_refresh_seconds
        self._max_age = max_age_seconds
        self._stale = stale_seconds
        self._fetch_timeout = fetch_timeout_seconds
        self._clock = clock
        self._keys: KeySet | None = None
        self._kids: frozenset[str] = frozenset()
        self._fetched_at = 0.0
        # When the last fetch started, successful or not: the refetch rate limit.
        self._attempted_at: float | None = None
        self._inflight: asyncio.Task[None] | None = None

    async def verify(self, token: str) -> Claims:
        """The claims of `token`; UnauthenticatedError if it is not valid, UnavailableError
        if no usable key set can be had from auth."""
        keys = await self._usable_keys()
        kid = _key_id(token)
        if kid is not None and kid not in self._kids and self._may_fetch():
            # Maybe signed by a key published after our last fetch.
            await self._refresh()
            keys = self._keys or keys
        return claims_from_token(token, keys)

    async def _usable_keys(self) -> KeySet:
        """A key set young enough to verify with, fetching (or sharing a fetch) if need be."""
        age = self._clock() - self._fetched_at
        if self._keys is not None and age <= self._max_age:
            return self._keys
        if self._may_fetch():
            if self._keys is not None and age <= self._stale:
                # Refreshed in the background: this verification uses the set it has.
                self._start_refresh()
                return self._keys
            await self._refresh()
        age = self._clock() - self._fetched_at
        if self._keys is not None and age <= self._stale:
            return self._keys
        raise self._unavailable()

    def _may_fetch(self) -> bool:
        if self._inflight is not None:
            return True  # joining a running fetch costs auth nothing
        return self._attempted_at is None or (
            self._clock() - self._attempted_at >= self._min_refresh
        )

    async def _refresh(self) -> None:
        self._start_refresh()
        await self._join()

    def _start_refresh(self) -> None:
        if self._inflight is None:
            self._attempted_at = self._clock()
            self._inflight = asyncio.create_task(self._fetch_once(), name="jwks-fetch")

    async def _join(self) -> None:
        task = self._inflight
        if task is not None:
            # Shielded: a caller that gives up must not cancel the fetch others share.
            await asyncio.shield(task)

    async def _fetch_once(self) -> None:
        try:
            async with asyncio.timeout(self._fetch_timeout):
                jwks = await self._fetch()
            keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        except Exception as exc:
            # Any failure keeps the last good set. The cause (often a grpc error
            # naming auth's address) is for the log, never for a caller.
            log.warning("cannot fetch auth's signing keys", exc_info=exc)
        else:
            self._keys = keys
            self._kids = frozenset(str(key.kid) for key in keys.keys if key.kid)
            self._fetched_at = self._clock()
        finally:
            self._inflight = None

    def _unavailable(self) -> UnavailableError:
        if self._keys is None:
            return UnavailableError(
                "cannot verify tokens: the signing keys (JWKS) of the auth service could not "
                "be fetched; retry later"
            )
        age = int(self._clock() - self._fetched_at)
        return UnavailableError(
            f"cannot verify tokens: the signing keys of the auth service were last fetched "
            f"{age} s ago, longer than the {self._stale:g} s they are trusted without "
            "refreshing, and auth cannot be reached; retry later"
        )


def _key_id(token: str) -> str | None:
    """The `kid` of a compact JWS's protected header, read without verifying anything."""
    header, _, _ = token.partition(".")
    if len(header) > _MAX_HEADER:
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, TypeError):
        return None
    kid = decoded.get("kid") if isinstance(decoded, dict) else None
    return kid if isinstance(kid, str) else None
