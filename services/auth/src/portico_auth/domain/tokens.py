"""Service tokens: JWTs signed with Ed25519 (JWS alg "Ed25519", RFC 9864).

Claims: iss, aud, sub (client id), tenant (a tenant id or "*"), scope (space
separated), roles (an array of the client's roles), iat, nbf, exp, jti. Verification is the kernel's
`claims_from_token`, so auth accepts exactly what every other service accepts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from joserfc import jwt
from joserfc.jwk import KeySet

from portico_auth.domain.clients import Grant
from portico_auth.domain.signing_keys import SigningKey
from portico_auth.errors import InvalidTokenError
from portico_common.errors import UnauthenticatedError
from portico_common.grpc.tokens import ALGORITHM, AUDIENCE, ISSUER, Claims, claims_from_token


@dataclass(frozen=True)
class TokenPolicy:
    """Token lifetimes in seconds: a request for 0 gets the default, more than max gets max."""

    default_ttl: int = 900
    max_ttl: int = 3600

    def __post_init__(self) -> None:
        if not 0 < self.default_ttl <= self.max_ttl:
            raise ValueError("token TTLs need 0 < default_ttl <= max_ttl")

    def ttl_for(self, requested: int) -> int:
        if requested <= 0:
            return self.default_ttl
        return min(requested, self.max_ttl)


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    ttl_seconds: int


def issue_token(
    grant: Grant, key: SigningKey, *, now: datetime, ttl_seconds: int, token_id: str
) -> IssuedToken:
    """Signs a token for `grant` with `key`, valid from now for `ttl_seconds`."""
    issued_at = int(now.timestamp())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": grant.client_id,
        "tenant": grant.tenant_id,
        "scope": " ".join(grant.scopes),
        "roles": list(grant.roles),
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + ttl_seconds,
        "jti": token_id,
    }
    header = {"alg": ALGORITHM, "kid": key.kid, "typ": "JWT"}
    token = jwt.encode(header, claims, key.jwk, algorithms=[ALGORITHM])
    expires_at = datetime.fromtimestamp(issued_at, now.tzinfo) + timedelta(seconds=ttl_seconds)
    return IssuedToken(token, expires_at, ttl_seconds)


def jwks_of(keys: Sequence[SigningKey]) -> dict[str, list[dict[str, str]]]:
    """A JWK Set of the keys' public halves."""
    return {"keys": [k.public_jwk() for k in keys]}


def verify_token(token: str, keys: Sequence[SigningKey], *, now: datetime) -> Claims:
    """The token's claims if one of `keys` signed it and it is valid now; else InvalidTokenError."""
    if not keys:
        raise InvalidTokenError("invalid token: no signing keys are published")
    key_set = KeySet.import_key_set(jwks_of(keys))  # type: ignore[arg-type]
    try:
        return claims_from_token(token, key_set, now=now.timestamp())
    except UnauthenticatedError as exc:
        raise InvalidTokenError(str(exc)) from exc
