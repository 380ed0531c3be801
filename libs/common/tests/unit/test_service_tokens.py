"""A service's own token: fetched once for concurrent callers, renewed before it expires."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr

from portico_common.grpc.service_tokens import ServiceIdentity, ServiceTokens

IDENTITY = ServiceIdentity("svc-rollout", SecretStr("s3cret-0123456789abcdef"))


class FakeAuth:
    """Issues numbered tokens with a fixed lifetime, counting the requests."""

    def __init__(self, lifetime: float = 100.0) -> None:
        self.lifetime = lifetime
        self.requests: list[tuple[str, str]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def issue(self, client_id: str, secret: str) -> tuple[str, float]:
        self.requests.append((client_id, secret))
        await self.gate.wait()
        return f"token-{len(self.requests)}", self.lifetime


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_first_call_fetches_a_token_with_the_services_credentials() -> None:
    """The token comes from auth, asked with the service's own client id and secret."""
    auth = FakeAuth()
    tokens = ServiceTokens(IDENTITY, auth.issue)
    assert await tokens.token() == "token-1"
    assert auth.requests == [("svc-rollout", "s3cret-0123456789abcdef")]


async def test_concurrent_callers_share_one_request() -> None:
    """Ten calls waiting for a token cause one request to auth."""
    auth = FakeAuth()
    auth.gate.clear()
    tokens = ServiceTokens(IDENTITY, auth.issue)
    waiting = [asyncio.create_task(tokens.token()) for _ in range(10)]
    await asyncio.sleep(0)
    auth.gate.set()
    assert set(await asyncio.gather(*waiting)) == {"token-1"}
    assert len(auth.requests) == 1


async def test_the_token_is_kept_then_renewed_before_it_expires() -> None:
    """With 100 s of life, the token is reused until 80 s have passed, then renewed."""
    auth = FakeAuth(lifetime=100.0)
    clock = FakeTime()
    tokens = ServiceTokens(IDENTITY, auth.issue, monotonic=clock)
    assert await tokens.token() == "token-1"
    clock.now += 79.0
    assert await tokens.token() == "token-1"
    clock.now += 2.0
    assert await tokens.token() == "token-2"
    assert len(auth.requests) == 2


async def test_a_failed_renewal_is_retried_by_the_next_caller() -> None:
    """An error from auth reaches the caller; the next call asks again."""
    calls = 0

    async def flaky(client_id: str, secret: str) -> tuple[str, float]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("auth is restarting")
        return "token-ok", 60.0

    tokens = ServiceTokens(IDENTITY, flaky)
    with pytest.raises(ConnectionError):
        await tokens.token()
    assert await tokens.token() == "token-ok"
