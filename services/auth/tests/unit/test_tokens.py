"""Service tokens: what auth signs, and the hostile tokens verification must refuse."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey

from portico_auth.domain.clients import Grant
from portico_auth.domain.signing_keys import KeyPolicy, SigningKey
from portico_auth.domain.tokens import TokenPolicy, issue_token, jwks_of, verify_token
from portico_auth.errors import InvalidTokenError
from portico_common.grpc.tokens import claims_from_token


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64json(obj: dict[str, Any]) -> str:
    return _b64(json.dumps(obj).encode())


def _segments(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return (
        json.loads(base64.urlsafe_b64decode(header + "==")),
        json.loads(base64.urlsafe_b64decode(payload + "==")),
    )


def _claims(t0: datetime, **changes: Any) -> dict[str, Any]:
    now = int(t0.timestamp())
    claims = {
        "iss": "portico-auth",
        "aud": "portico",
        "sub": "ci-bot",
        "tenant": "acme",
        "scope": "tenants.read",
        "iat": now,
        "nbf": now,
        "exp": now + 900,
        "jti": "j1",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _signed(key: SigningKey, claims: dict[str, Any]) -> str:
    return jwt.encode({"alg": "Ed25519", "kid": key.kid}, claims, key.jwk, algorithms=["Ed25519"])


def _issue(grant: Grant, key: SigningKey, t0: datetime, ttl: int = 900) -> str:
    return issue_token(grant, key, now=t0, ttl_seconds=ttl, token_id="tok-1").token


@pytest.mark.parametrize(
    ("requested", "granted"), [(0, 900), (60, 60), (3600, 3600), (86400, 3600)]
)
def test_the_lifetime_is_defaulted_and_capped(requested: int, granted: int) -> None:
    """0 asks for the default (900 s); anything above the maximum gets the maximum (3600 s)."""
    assert TokenPolicy().ttl_for(requested) == granted


def test_a_token_policy_needs_a_positive_default_within_the_max() -> None:
    """A default of 0 or above the maximum is a configuration error."""
    for default, maximum in [(0, 10), (20, 10)]:
        with pytest.raises(ValueError, match="default_ttl"):
            TokenPolicy(default, maximum)


def test_an_issued_token_carries_the_grant(
    grant: Grant, signing_key: SigningKey, t0: datetime
) -> None:
    """The token has the fully specified Ed25519 alg, the key id, and every claim of the grant."""
    issued = issue_token(grant, signing_key, now=t0, ttl_seconds=600, token_id="tok-1")
    header, claims = _segments(issued.token)
    now = int(t0.timestamp())
    assert header == {"typ": "JWT", "alg": "Ed25519", "kid": signing_key.kid}
    assert claims == {
        "iss": "portico-auth",
        "aud": "portico",
        "sub": "ci-bot",
        "tenant": "acme",
        "scope": "tenants.read rollouts.request",
        "roles": [],
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "tok-1",
    }
    assert issued.expires_at == t0 + timedelta(seconds=600)


def test_the_kernel_verifier_accepts_an_issued_token(
    grant: Grant, signing_key: SigningKey, t0: datetime
) -> None:
    """Other services' claims_from_token, given the JWKS, returns the grant's claims."""
    keys = KeySet.import_key_set(jwks_of([signing_key]))  # type: ignore[arg-type]
    claims = claims_from_token(_issue(grant, signing_key, t0), keys, now=t0.timestamp() + 10)
    assert (claims.subject, claims.tenant_id, claims.scopes, claims.token_id) == (
        "ci-bot",
        "acme",
        ("tenants.read", "rollouts.request"),
        "tok-1",
    )
    assert claims.expires_at == int(t0.timestamp()) + 900


def test_a_token_of_the_previous_key_verifies_during_the_overlap(
    grant: Grant, signing_key: SigningKey, t0: datetime, key_policy: KeyPolicy
) -> None:
    """While both keys are published, a token signed by the old key still verifies."""
    later = t0 + timedelta(minutes=5)
    successor = SigningKey.generate(later, key_policy)
    token = _issue(grant, signing_key, t0)
    assert verify_token(token, [successor, signing_key], now=later).subject == "ci-bot"


def test_an_expired_token_is_refused(grant: Grant, signing_key: SigningKey, t0: datetime) -> None:
    """Past exp (beyond the 5 s leeway) the token is refused as expired."""
    token = _issue(grant, signing_key, t0, ttl=60)
    assert verify_token(token, [signing_key], now=t0 + timedelta(seconds=64)).subject == "ci-bot"
    with pytest.raises(InvalidTokenError, match="expired"):
        verify_token(token, [signing_key], now=t0 + timedelta(seconds=66))


def test_a_token_not_yet_valid_is_refused(signing_key: SigningKey, t0: datetime) -> None:
    """A token whose nbf is in the future is refused."""
    token = _signed(signing_key, _claims(t0, nbf=int(t0.timestamp()) + 600))
    with pytest.raises(InvalidTokenError, match="not yet valid"):
        verify_token(token, [signing_key], now=t0)


def test_alg_none_is_refused(signing_key: SigningKey, t0: datetime) -> None:
    """An unsigned token (alg 'none') with valid claims is refused."""
    header = _b64json({"alg": "none", "typ": "JWT", "kid": signing_key.kid})
    token = f"{header}.{_b64json(_claims(t0))}."
    with pytest.raises(InvalidTokenError, match="'none' is not allowed"):
        verify_token(token, [signing_key], now=t0)


def test_hs256_keyed_with_the_public_key_is_refused(signing_key: SigningKey, t0: datetime) -> None:
    """The alg-confusion attack (HMAC keyed with the published public key) is refused."""
    public = base64.urlsafe_b64decode(signing_key.public_jwk()["x"] + "=")
    forged = jwt.encode(
        {"alg": "HS256", "kid": signing_key.kid},
        _claims(t0, tenant="*"),
        OctKey.import_key(public),
        algorithms=["HS256"],
    )
    with pytest.raises(InvalidTokenError, match="'HS256' is not allowed"):
        verify_token(forged, [signing_key], now=t0)


def test_a_tampered_payload_is_refused(grant: Grant, signing_key: SigningKey, t0: datetime) -> None:
    """Swapping in a payload for tenant '*' under the original signature fails the signature."""
    header, _, signature = _issue(grant, signing_key, t0).split(".")
    forged = f"{header}.{_b64json(_claims(t0, tenant='*'))}.{signature}"
    with pytest.raises(InvalidTokenError, match="bad_signature"):
        verify_token(forged, [signing_key], now=t0)


def test_an_unknown_key_id_is_refused(grant: Grant, t0: datetime, key_policy: KeyPolicy) -> None:
    """A token from a key that is not published (another issuer's, or retired) is refused."""
    stranger = SigningKey.generate(t0, key_policy)
    published = SigningKey.generate(t0, key_policy)
    with pytest.raises(InvalidTokenError, match="kid"):
        verify_token(_issue(grant, stranger, t0), [published], now=t0)


def test_a_signature_by_another_key_under_a_published_kid_is_refused(
    signing_key: SigningKey, t0: datetime, key_policy: KeyPolicy
) -> None:
    """Claiming a published kid does not help a token signed with some other key."""
    other = SigningKey.generate(t0, key_policy)
    token = jwt.encode(
        {"alg": "Ed25519", "kid": signing_key.kid}, _claims(t0), other.jwk, algorithms=["Ed25519"]
    )
    with pytest.raises(InvalidTokenError, match="bad_signature"):
        verify_token(token, [signing_key], now=t0)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"aud": "someone-else"}, "aud"),
        ({"aud": None}, "aud"),
        ({"iss": "evil-auth"}, "iss"),
        ({"iss": None}, "iss"),
        ({"tenant": None}, "tenant"),
        ({"sub": None}, "sub"),
        ({"exp": None}, "exp"),
        ({"tenant": ""}, "tenant"),
    ],
)
def test_wrong_or_missing_claims_are_refused(
    signing_key: SigningKey, t0: datetime, change: dict[str, Any], reason: str
) -> None:
    """A well-signed token with a wrong aud or iss, or without tenant/sub/exp, is refused."""
    token = _signed(signing_key, _claims(t0, **change))
    with pytest.raises(InvalidTokenError, match=reason):
        verify_token(token, [signing_key], now=t0)


@pytest.mark.parametrize(
    "garbage",
    ["", "not-a-token", "a.b.c", "a.b", "....", "eyJ.eyJ.", _b64json({"alg": "Ed25519"}) + ".e30."],
)
def test_garbage_is_refused_cleanly(signing_key: SigningKey, t0: datetime, garbage: str) -> None:
    """Strings that are not JWTs are refused with InvalidTokenError, never another exception."""
    with pytest.raises(InvalidTokenError):
        verify_token(garbage, [signing_key], now=t0)


def test_nothing_verifies_without_published_keys(
    grant: Grant, signing_key: SigningKey, t0: datetime
) -> None:
    """With an empty JWKS every token is refused."""
    with pytest.raises(InvalidTokenError, match="no signing keys"):
        verify_token(_issue(grant, signing_key, t0), [], now=t0)
