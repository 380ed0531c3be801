"""Service tokens: Ed25519 JWTs checked against auth's key set."""

from __future__ import annotations

import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import KeySet, OKPKey

from portico_common.errors import UnauthenticatedError
from portico_common.grpc.tokens import (
    ALGORITHM,
    AUDIENCE,
    ISSUER,
    Claims,
    TokenVerifier,
    claims_from_token,
)

NOW = 1_800_000_000


def _key(kid: str = "k1") -> OKPKey:
    return OKPKey.generate_key("Ed25519", parameters={"kid": kid})


def _jwks(*keys: OKPKey) -> Any:  # joserfc's KeySetSerialization, a TypedDict
    return {"keys": [k.as_dict(private=False) for k in keys]}


def _token(key: OKPKey, alg: str = ALGORITHM, **overrides: Any) -> str:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "svc:rollout",
        "tenant": "acme",
        "scope": "rollouts.request slos.read",
        "exp": NOW + 300,
        "jti": "t-1",
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode({"alg": alg, "kid": key.kid}, claims, key, algorithms=[alg])


def test_valid_token_gives_its_claims() -> None:
    """A token signed by a known key, unexpired, for our audience yields typed claims."""
    key = _key()
    claims = claims_from_token(_token(key), KeySet.import_key_set(_jwks(key)), now=NOW)
    assert claims == Claims(
        subject="svc:rollout",
        tenant_id="acme",
        scopes=("rollouts.request", "slos.read"),
        expires_at=NOW + 300,
        token_id="t-1",
    )


def test_roles_claim_becomes_a_tuple_of_roles() -> None:
    """A token's `roles` array is carried into the claims, in order."""
    key = _key()
    token = _token(key, roles=["security-approver", "platform-admin"])
    claims = claims_from_token(token, KeySet.import_key_set(_jwks(key)), now=NOW)
    assert claims.roles == ("security-approver", "platform-admin")


@pytest.mark.parametrize("roles", ["security-approver", [1, 2], {"a": "b"}])
def test_malformed_roles_claim_is_unauthenticated(roles: Any) -> None:
    """A `roles` claim that is not an array of strings makes the token invalid."""
    key = _key()
    with pytest.raises(UnauthenticatedError, match="roles must be an array of strings"):
        claims_from_token(_token(key, roles=roles), KeySet.import_key_set(_jwks(key)), now=NOW)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": NOW - 60}, "exp"),
        ({"aud": "someone-else"}, "aud"),
        ({"iss": "mallory"}, "iss"),
        ({"tenant": None}, "tenant"),
        ({"sub": None}, "sub"),
    ],
)
def test_invalid_claims_are_unauthenticated(overrides: dict[str, Any], reason: str) -> None:
    """An expired token, another audience or issuer, or a missing claim is refused by name."""
    key = _key()
    with pytest.raises(UnauthenticatedError, match=f"invalid token claims: .*{reason}"):
        claims_from_token(_token(key, **overrides), KeySet.import_key_set(_jwks(key)), now=NOW)


def test_leeway_tolerates_small_clock_skew() -> None:
    """A token that expired 3 s ago is still accepted (5 s leeway for skew between hosts)."""
    key = _key()
    claims = claims_from_token(_token(key, exp=NOW - 3), KeySet.import_key_set(_jwks(key)), now=NOW)
    assert claims.subject == "svc:rollout"


def test_token_from_an_unknown_key_is_refused() -> None:
    """A signature from a key that is not in the set fails verification."""
    with pytest.raises(UnauthenticatedError, match=r"^invalid token: "):
        claims_from_token(_token(_key("k1")), KeySet.import_key_set(_jwks(_key("k1"))), now=NOW)


def test_polymorphic_eddsa_name_is_refused() -> None:
    """Only the fully specified Ed25519 algorithm name is accepted, not the older EdDSA."""
    key = _key()
    with pytest.warns(SecurityWarning, match="EdDSA is deprecated"):
        token = _token(key, alg="EdDSA")
    with pytest.raises(UnauthenticatedError, match=r"^invalid token: "):
        claims_from_token(token, KeySet.import_key_set(_jwks(key)), now=NOW)


def test_garbage_is_refused() -> None:
    """Something that is not a JWS at all is UNAUTHENTICATED, not a crash."""
    with pytest.raises(UnauthenticatedError, match=r"^invalid token: "):
        claims_from_token("not.a.token", KeySet.import_key_set(_jwks(_key())), now=NOW)


@pytest.mark.parametrize(
    ("token_tenant", "asked", "allowed"),
    [("acme", "acme", True), ("acme", "beta", False), ("*", "beta", True)],
)
def test_claims_allow_their_tenant_or_all(token_tenant: str, asked: str, allowed: bool) -> None:
    """A token acts for its own tenant; only a platform token ('*') acts for any."""
    claims = Claims("svc", token_tenant, (), NOW, "")
    assert claims.allows_tenant(asked) is allowed


async def test_verifier_refetches_keys_after_rotation() -> None:
    """A token signed by a key published after the last fetch triggers one refetch."""
    old, new = _key("old"), _key("new")
    published: list[dict[str, Any]] = [_jwks(old), _jwks(old, new)]
    fetches = 0

    async def fetch() -> dict[str, Any]:
        nonlocal fetches
        fetches += 1
        return published[min(fetches, 2) - 1]

    verifier = TokenVerifier(fetch, min_refresh_seconds=0.0)
    assert (await verifier.verify(_token(old, exp=int(time.time()) + 60))).tenant_id == "acme"
    assert (await verifier.verify(_token(new, exp=int(time.time()) + 60))).tenant_id == "acme"
    assert fetches == 2


async def test_verifier_does_not_refetch_within_the_refresh_interval() -> None:
    """Bad tokens in a burst cannot make the verifier hammer the auth service."""
    fetches = 0
    key = _key()

    async def fetch() -> dict[str, Any]:
        nonlocal fetches
        fetches += 1
        jwks: dict[str, Any] = _jwks(key)
        return jwks

    verifier = TokenVerifier(fetch, min_refresh_seconds=60.0)
    for _ in range(3):
        with pytest.raises(UnauthenticatedError):
            await verifier.verify(_token(_key("stranger"), exp=int(time.time()) + 60))
    assert fetches == 1


async def test_verifier_reports_an_unreachable_key_service() -> None:
    """When the JWKS cannot be fetched the caller is UNAUTHENTICATED with the cause."""

    async def fetch() -> dict[str, Any]:
        raise ConnectionRefusedError("auth is down")

    with pytest.raises(UnauthenticatedError, match="cannot fetch signing keys: auth is down"):
        await TokenVerifier(fetch).verify("x.y.z")
