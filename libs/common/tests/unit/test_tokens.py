"""Service tokens: Ed25519 JWTs checked against auth's key set."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import KeySet, OKPKey

from portico_common.errors import UnauthenticatedError, UnavailableError
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


def test_a_tampered_signature_is_named_without_a_dangling_separator() -> None:
    """A signature that does not verify says bad_signature and nothing after it."""
    key = _key()
    header, payload, signature = _token(key).split(".")
    forged = ".".join([header, payload, ("A" if signature[0] != "A" else "B") + signature[1:]])
    with pytest.raises(UnauthenticatedError) as caught:
        claims_from_token(forged, KeySet.import_key_set(_jwks(key)), now=NOW)
    assert str(caught.value) == "invalid token: bad_signature"


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
    """When the JWKS was never fetched and auth is down, the caller is UNAVAILABLE naming auth."""

    async def fetch() -> dict[str, Any]:
        raise ConnectionRefusedError("ipv4:10.0.0.9:50053: auth is down")

    with pytest.raises(UnavailableError, match=r"signing keys .* auth service") as caught:
        await TokenVerifier(fetch).verify("x.y.z")
    assert caught.value.code == "UNAVAILABLE"
    assert "10.0.0.9" not in str(caught.value)


# -- the key cache: single flight, rate limit, serving stale keys ---------------------

MIN_REFRESH = 5.0
MAX_AGE = 600.0
STALE = 3600.0


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeAuth:
    """Auth's GetJwks: counts fetches, can be down, can hold a fetch until released."""

    def __init__(self, *keys: OKPKey) -> None:
        self.keys = list(keys)
        self.fetches = 0
        self.down = False
        self.gate: asyncio.Event | None = None

    async def __call__(self) -> dict[str, Any]:
        self.fetches += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.down:
            raise ConnectionRefusedError("ipv4:10.0.0.9:50053: connection refused")
        jwks: dict[str, Any] = _jwks(*self.keys)
        return jwks


def live_token(key: OKPKey, **overrides: Any) -> str:
    return _token(key, exp=int(time.time()) + 600, **overrides)


def verifier_of(auth: FakeAuth, ticks: Ticks) -> TokenVerifier:
    return TokenVerifier(
        auth,
        min_refresh_seconds=MIN_REFRESH,
        max_age_seconds=MAX_AGE,
        stale_seconds=STALE,
        clock=ticks,
    )


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


async def test_concurrent_verifications_share_one_fetch() -> None:
    """Twenty verifications arriving before the first fetch ends wait for that one fetch."""
    key = _key()
    auth, ticks = FakeAuth(key), Ticks()
    auth.gate = asyncio.Event()
    verifier = verifier_of(auth, ticks)

    pending = [asyncio.create_task(verifier.verify(live_token(key))) for _ in range(20)]
    await until(lambda: auth.fetches == 1)
    await asyncio.sleep(0)
    assert not any(task.done() for task in pending)
    auth.gate.set()
    claims = await asyncio.gather(*pending)

    assert {c.subject for c in claims} == {"svc:rollout"}
    assert auth.fetches == 1


async def test_a_refresh_in_flight_does_not_hold_up_verifications() -> None:
    """With a usable cached set, verifying never waits for a slow refresh (no lock held)."""
    key = _key()
    auth, ticks = FakeAuth(key), Ticks()
    verifier = verifier_of(auth, ticks)
    await verifier.verify(live_token(key))
    auth.gate = asyncio.Event()
    ticks.now += MAX_AGE + 1

    for _ in range(5):
        claims = await asyncio.wait_for(verifier.verify(live_token(key)), timeout=1.0)
        assert claims.subject == "svc:rollout"

    assert auth.fetches == 2  # one refresh started, joined by nobody, still running
    auth.gate.set()
    await until(lambda: verifier._inflight is None)


async def test_a_caller_giving_up_does_not_cancel_the_shared_fetch() -> None:
    """One cancelled verification leaves the fetch running for the others."""
    key = _key()
    auth, ticks = FakeAuth(key), Ticks()
    auth.gate = asyncio.Event()
    verifier = verifier_of(auth, ticks)
    impatient = asyncio.create_task(verifier.verify(live_token(key)))
    patient = asyncio.create_task(verifier.verify(live_token(key)))
    await until(lambda: auth.fetches == 1)

    impatient.cancel()
    with pytest.raises(asyncio.CancelledError):
        await impatient
    auth.gate.set()

    assert (await patient).subject == "svc:rollout"
    assert auth.fetches == 1


async def test_a_flood_of_unknown_key_ids_refetches_once_per_interval() -> None:
    """Tokens naming keys auth never published cause at most one refetch per interval."""
    key = _key()
    auth, ticks = FakeAuth(key), Ticks()
    verifier = verifier_of(auth, ticks)
    await verifier.verify(live_token(key))

    for n in range(50):
        with pytest.raises(UnauthenticatedError):
            await verifier.verify(live_token(_key(f"forged-{n}")))
    assert auth.fetches == 1  # the set was fetched less than an interval ago
    for round_ in range(3):
        ticks.now += MIN_REFRESH
        for n in range(50):
            with pytest.raises(UnauthenticatedError):
                await verifier.verify(live_token(_key(f"forged-{round_}-{n}")))
        assert auth.fetches == 2 + round_


async def test_a_token_with_a_known_key_id_never_refetches() -> None:
    """An expired or badly signed token under a known kid is refused without asking auth."""
    key = _key()
    auth, ticks = FakeAuth(key), Ticks()
    verifier = verifier_of(auth, ticks)
    await verifier.verify(live_token(key))
    ticks.now += MIN_REFRESH

    with pytest.raises(UnauthenticatedError, match="exp"):
        await verifier.verify(_token(key, exp=int(time.time()) - 60))
    impostor = OKPKey.generate_key("Ed25519", parameters={"kid": "k1"})
    with pytest.raises(UnauthenticatedError):
        await verifier.verify(live_token(impostor))

    assert auth.fetches == 1


async def test_a_rotated_key_is_picked_up_after_the_interval() -> None:
    """A key published after the last fetch is found once the refetch interval allows."""
    old, new = _key("old"), _key("new")
    auth, ticks = FakeAuth(old), Ticks()
    verifier = verifier_of(auth, ticks)
    await verifier.verify(live_token(old))
    auth.keys.append(new)
    ticks.now += MIN_REFRESH

    assert (await verifier.verify(live_token(new))).subject == "svc:rollout"
    assert auth.fetches == 2


async def test_the_last_good_keys_serve_while_auth_is_down_then_unavailable() -> None:
    """Auth unreachable: cached keys verify until `stale_seconds`, then UNAVAILABLE naming auth."""
    key = _key()
    auth, ticks = FakeAuth(key), Ticks()
    verifier = verifier_of(auth, ticks)
    await verifier.verify(live_token(key))
    auth.down = True

    for offset in (MAX_AGE + 1, STALE / 2, STALE - 1):
        ticks.now = 1000.0 + offset
        assert (await verifier.verify(live_token(key))).subject == "svc:rollout"
        await until(lambda: verifier._inflight is None)

    ticks.now = 1000.0 + STALE + 1
    with pytest.raises(UnavailableError) as caught:
        await verifier.verify(live_token(key))
    assert caught.value.code == "UNAVAILABLE"
    assert "auth service" in str(caught.value)
    assert "10.0.0.9" not in str(caught.value)


async def test_expired_keys_during_an_outage_refetch_once_per_interval() -> None:
    """Past the stale window, a burst of calls tries auth once, the rest fail at once."""
    key = _key()
    auth, ticks = FakeAuth(key), Ticks()
    verifier = verifier_of(auth, ticks)
    await verifier.verify(live_token(key))
    auth.down = True
    ticks.now += STALE + 1

    for _ in range(30):
        with pytest.raises(UnavailableError):
            await verifier.verify(live_token(key))
    assert auth.fetches == 2


async def test_service_resumes_when_auth_comes_back() -> None:
    """After an outage the next allowed fetch restores verification."""
    key = _key()
    auth, ticks = FakeAuth(key), Ticks()
    auth.down = True
    verifier = verifier_of(auth, ticks)
    with pytest.raises(UnavailableError):
        await verifier.verify(live_token(key))

    auth.down = False
    with pytest.raises(UnavailableError):
        await verifier.verify(live_token(key))  # within the interval: auth not asked again
    ticks.now += MIN_REFRESH

    assert (await verifier.verify(live_token(key))).subject == "svc:rollout"
    assert auth.fetches == 2


async def test_a_hung_fetch_is_cut_off() -> None:
    """A JWKS call that never answers ends at the fetch timeout as UNAVAILABLE."""
    key = _key()
    auth, ticks = FakeAuth(key), Ticks()
    auth.gate = asyncio.Event()
    verifier = TokenVerifier(auth, fetch_timeout_seconds=0.05, clock=ticks)

    with pytest.raises(UnavailableError):
        await verifier.verify(live_token(key))


def test_inconsistent_intervals_are_refused() -> None:
    """Keys cannot be trusted stale for less time than they are trusted fresh."""
    with pytest.raises(ValueError, match="stale_seconds"):
        TokenVerifier(FakeAuth(), max_age_seconds=600, stale_seconds=60)
