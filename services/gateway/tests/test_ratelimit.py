"""Per-tenant rate limits: the token bucket, and 429 with Retry-After through the gateway."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import httpx
import pytest
from starlette.applications import Starlette

from portico_gateway.app import create_app
from portico_gateway.ratelimit import TenantRateLimiter, retry_after_header, tenant_of

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


def test_the_tenant_is_the_request_s_then_the_token_s_then_the_client_s() -> None:
    """tenant_id in the request wins; else the bearer token's tenant claim; else the address."""
    claims = base64.urlsafe_b64encode(json.dumps({"tenant": "globex"}).encode()).decode()
    token = f"Bearer h.{claims.rstrip('=')}.s"
    assert tenant_of("acme", token, "10.0.0.1") == "acme"
    assert tenant_of("", token, "10.0.0.1") == "globex"
    assert tenant_of("", "Bearer not-a-jwt", "10.0.0.1") == "client:10.0.0.1"
    assert retry_after_header(0.01) == "1"
    assert retry_after_header(2.2) == "3"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limited_app(upstream: Upstream, clock: Clock) -> Starlette:
    return create_app(
        {"tenancy": upstream.target},
        registry=upstream.registry,
        rate_limit=TenantRateLimiter(rate=1, burst=2),
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
    statuses = [(await limited.get("/v1/tenants/acme")).status_code for _ in range(2)]
    assert 429 not in statuses
    refused = await limited.get("/v1/tenants/acme")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    problem = refused.json()
    assert problem["status"] == 429
    assert "tenant acme is over its rate limit of 1 requests a second" in problem["detail"]
    assert (await limited.get("/v1/tenants/globex")).status_code != 429
    clock.now += 1.0
    assert (await limited.get("/v1/tenants/acme")).status_code != 429
    assert (
        upstream.registry.get_sample_value("portico_gateway_rate_limited_total", {"tenant": "acme"})
        == 1.0
    )


async def test_without_a_rate_limit_nothing_is_refused(client: httpx.AsyncClient) -> None:
    """The default test app has no limiter: many requests of one tenant all reach tenancy."""
    statuses = {(await client.get("/v1/tenants/acme")).status_code for _ in range(10)}
    assert 429 not in statuses


def test_a_limiter_needs_a_positive_rate_and_burst() -> None:
    """A rate of zero or a burst under one is a configuration error."""
    with pytest.raises(ValueError, match="rate > 0"):
        TenantRateLimiter(rate=0, burst=1)
