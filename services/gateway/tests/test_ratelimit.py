"""Per-tenant rate limits: the token bucket, and 429 with Retry-After through the gateway."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OKPKey
from starlette.applications import Starlette

from portico_common.grpc.tokens import ALGORITHM, AUDIENCE, ISSUER, Claims, TokenVerifier
from portico_gateway.app import create_app
from portico_gateway.ratelimit import CallerBudgets, TenantRateLimiter, retry_after_header

if TYPE_CHECKING:
    from conftest import Upstream


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    """Burst 3 at 2 a second: three pass at once, the fourth waits half a second."""
    limiter = TenantRateLimiter(rate=2, burst=3)
    assert [limiter.take("acme", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("acme", 0.0) == pytest.approx(0.5)
    assert limiter.take("acme", 0.5) == 0.0
    # A long quiet spell fills the bucket to its burst, never beyond.
    assert [limiter.take("acme", 100.0) for _ in range(4)][-1] == pytest.approx(0.5)


def test_one_tenants_spending_leaves_anothers_budget_alone() -> None:
    """acme emptying its bucket does not slow globex."""
    limiter = TenantRateLimiter(rate=1, burst=1)
    assert limiter.take("acme", 0.0) == 0.0
    assert limiter.take("acme", 0.0) > 0
    assert limiter.take("globex", 0.0) == 0.0


def test_buckets_are_bounded_by_evicting_the_least_recently_used() -> None:
    """Past max_buckets the oldest bucket goes (it comes back full, as an idle one would)."""
    limiter = TenantRateLimiter(rate=1, burst=1, max_buckets=2)
    limiter.take("a", 0.0)
    limiter.take("b", 0.0)
    limiter.take("c", 0.0)
    assert limiter.take("a", 0.0) == 0.0  # evicted, so full again
    assert limiter.take("c", 0.0) > 0


KEY = OKPKey.generate_key("Ed25519", parameters={"kid": "auth-key"})
# Auth's key id, another key: what a forger without auth's private key can sign with.
FORGER = OKPKey.generate_key("Ed25519", parameters={"kid": "auth-key"})


async def auth_jwks() -> dict[str, Any]:
    return {"keys": [KEY.as_dict(private=False)]}


class CountingVerifier:
    """auth's keys through a real TokenVerifier, counting the tokens it was asked about."""

    def __init__(self) -> None:
        self.verifier = TokenVerifier(auth_jwks)
        self.asked = 0

    async def verify(self, token: str) -> Claims:
        self.asked += 1
        return await self.verifier.verify(token)


def bearer(tenant: str, *, key: OKPKey = KEY, subject: str = "user:ada", **extra: Any) -> str:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "tenant": tenant,
        "exp": int(time.time()) + 300,
    } | extra
    return "Bearer " + jwt.encode(
        {"alg": ALGORITHM, "kid": "auth-key"}, claims, key, algorithms=[ALGORITHM]
    )


async def test_the_budget_is_the_verified_tokens_tenant_else_the_clients() -> None:
    """A verified token's tenant; a forged, expired or missing token: the client's address."""
    budgets = CallerBudgets(CountingVerifier())
    assert await budgets.budget_of(bearer("globex"), "10.0.0.1") == "globex"
    assert await budgets.budget_of(bearer("globex", key=FORGER), "10.0.0.1") == "client:10.0.0.1"
    expired = bearer("globex", exp=int(time.time()) - 3600)
    assert await budgets.budget_of(expired, "10.0.0.1") == "client:10.0.0.1"
    assert await budgets.budget_of("Bearer not-a-jwt", "10.0.0.2") == "client:10.0.0.2"
    assert await budgets.budget_of("", "10.0.0.3") == "client:10.0.0.3"
    assert await budgets.budget_of("Basic Z2xvYmV4Og==", "10.0.0.3") == "client:10.0.0.3"
    # Platform tokens reach every tenant: each platform subject has its own budget.
    assert await budgets.budget_of(bearer("*", subject="ops:eve"), "10.0.0.1") == "*:ops:eve"
    assert retry_after_header(0.01) == "1"
    assert retry_after_header(2.2) == "3"


async def test_without_a_verifier_every_request_spends_its_clients_budget() -> None:
    """No auth to verify against: even a well-signed token names no budget."""
    budgets = CallerBudgets(None)
    assert await budgets.budget_of(bearer("globex"), "10.0.0.1") == "client:10.0.0.1"


async def test_a_verified_token_is_remembered_and_a_refused_one_is_not() -> None:
    """A repeated good token is verified once; a forged one every time it comes."""
    verifier = CountingVerifier()
    budgets = CallerBudgets(verifier)
    good, forged = bearer("globex"), bearer("globex", key=FORGER)
    for _ in range(3):
        assert await budgets.budget_of(good, "10.0.0.1") == "globex"
        assert await budgets.budget_of(forged, "10.0.0.1") == "client:10.0.0.1"
    assert verifier.asked == 1 + 3


async def test_a_remembered_token_is_verified_again_once_it_expires() -> None:
    """Remembering stops at the expiry the token states: past it the verifier is asked again."""
    now = [time.time()]
    verifier = CountingVerifier()
    budgets = CallerBudgets(verifier, wall_clock=lambda: now[0])
    token = bearer("globex", exp=int(now[0]) + 60)
    assert await budgets.budget_of(token, "10.0.0.1") == "globex"
    assert await budgets.budget_of(token, "10.0.0.1") == "globex"
    assert verifier.asked == 1
    now[0] += 61
    await budgets.budget_of(token, "10.0.0.1")
    assert verifier.asked == 2


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limited_app(upstream: Upstream, clock: Clock) -> Starlette:
    return create_app(
        {"tenancy": upstream.target},
        registry=upstream.registry,
        rate_limit=TenantRateLimiter(rate=1, burst=2),
        token_verifier=TokenVerifier(auth_jwks),
        monotonic=clock,
    )


@pytest.fixture
async def limited(limited_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        limited_app.router.lifespan_context(limited_app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=limited_app), base_url="http://gateway"
        ) as http,
    ):
        yield http


async def test_a_tenant_over_its_rate_gets_429_with_retry_after_and_others_do_not(
    limited: httpx.AsyncClient, upstream: Upstream, clock: Clock
) -> None:
    """The third request in a burst of two is a 429 problem; globex passes; a second later acme."""
    acme = {"authorization": bearer("acme")}
    statuses = [(await limited.get("/v1/tenants/acme", headers=acme)).status_code for _ in range(2)]
    assert 429 not in statuses
    refused = await limited.get("/v1/tenants/acme", headers=acme)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    problem = refused.json()
    assert problem["status"] == 429
    assert "tenant acme is over its rate limit of 1 requests a second" in problem["detail"]
    globex = {"authorization": bearer("globex")}
    assert (await limited.get("/v1/tenants/globex", headers=globex)).status_code != 429
    clock.now += 1.0
    assert (await limited.get("/v1/tenants/acme", headers=acme)).status_code != 429
    assert (
        upstream.registry.get_sample_value("portico_gateway_rate_limited_total", {"tenant": "acme"})
        == 1.0
    )


async def test_a_token_naming_another_tenants_path_spends_its_own_tenants_budget(
    limited: httpx.AsyncClient, upstream: Upstream
) -> None:
    """acme's token on globex's paths empties acme's bucket, never globex's."""
    acme = {"authorization": bearer("acme")}
    for _ in range(2):
        assert (await limited.get("/v1/tenants/globex", headers=acme)).status_code != 429
    refused = await limited.get("/v1/tenants/globex", headers=acme)
    assert refused.status_code == 429
    assert refused.json()["tenant"] == "acme"
    # acme's own path is refused too: the budget was acme's all along.
    assert (await limited.get("/v1/tenants/acme", headers=acme)).status_code == 429
    globex = {"authorization": bearer("globex")}
    statuses = [
        (await limited.get("/v1/tenants/globex", headers=globex)).status_code for _ in range(2)
    ]
    assert 429 not in statuses
    assert upstream.registry.get_sample_value(
        "portico_gateway_rate_limited_total", {"tenant": "globex"}
    ) in (None, 0.0)


async def test_forged_tokens_get_no_budget_of_their_own(limited: httpx.AsyncClient) -> None:
    """Tokens signed by a stranger, each naming a fresh tenant, all spend the client's budget."""
    statuses = [
        (
            await limited.get(
                f"/v1/tenants/t{n}", headers={"authorization": bearer(f"t{n}", key=FORGER)}
            )
        ).status_code
        for n in range(3)
    ]
    assert statuses[:2].count(429) == 0
    assert statuses[2] == 429
    refused = await limited.get(
        "/v1/tenants/t9", headers={"authorization": bearer("t9", key=FORGER)}
    )
    assert refused.json()["tenant"] == "client:127.0.0.1"
    # A genuine token from the same client is budgeted as its tenant, untouched.
    assert (
        await limited.get("/v1/tenants/acme", headers={"authorization": bearer("acme")})
    ).status_code != 429


async def test_without_a_rate_limit_nothing_is_refused(client: httpx.AsyncClient) -> None:
    """The default test app has no limiter: many requests of one tenant all reach tenancy."""
    statuses = {(await client.get("/v1/tenants/acme")).status_code for _ in range(10)}
    assert 429 not in statuses


def test_a_limiter_needs_a_positive_rate_and_burst() -> None:
    """A rate of zero or a burst under one is a configuration error."""
    with pytest.raises(ValueError, match="rate > 0"):
        TenantRateLimiter(rate=0, burst=1)
