"""The demo's gateway client: problem details, timeouts and token renewal."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from portico_cli.api import AnswerLostError, ApiError, Gateway, Tokens
from portico_cli.errors import DemoError


def gateway(handler: object) -> Gateway:
    return Gateway("http://portico.test", transport=httpx.MockTransport(handler), timeout=0.5)  # type: ignore[arg-type]


async def test_a_problem_becomes_an_error_carrying_its_detail() -> None:
    """RFC 9457 bodies are reduced to `METHOD path -> status title: detail`."""

    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(
            409,
            json={"type": "urn:x", "title": "Conflict", "status": 409, "detail": "tenant exists"},
            headers={"content-type": "application/problem+json"},
        )

    client = gateway(handler)
    with pytest.raises(ApiError) as caught:
        await client.call("POST", "/v1/tenants", body={})
    await client.close()
    assert str(caught.value) == "POST /v1/tenants -> 409 Conflict: tenant exists"
    assert caught.value.status == 409
    assert caught.value.detail == "tenant exists"


async def test_a_non_json_error_shows_its_text() -> None:
    """A proxy's HTML or plain error still says something useful."""
    client = gateway(lambda _: httpx.Response(502, text="upstream connect error"))
    with pytest.raises(ApiError, match="502 Bad Gateway: upstream connect error"):
        await client.call("GET", "/v1/x")
    await client.close()


async def test_an_unreachable_gateway_is_named() -> None:
    """Connection failures name the gateway's URL."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = gateway(handler)
    with pytest.raises(DemoError, match=r"cannot reach the gateway at http://portico\.test"):
        await client.call("GET", "/v1/x")
    await client.close()


async def test_a_slow_answer_times_out() -> None:
    """Every call has a timeout."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    client = gateway(handler)
    with pytest.raises(DemoError, match="no answer within"):
        await client.call("GET", "/v1/x")
    await client.close()


async def test_tokens_are_cached_per_tenant_and_renewed_near_expiry() -> None:
    """One token request per tenant while valid; a short-lived token is renewed."""
    issued: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        tenant = json.loads(request.content)["tenantId"]
        issued.append(tenant)
        lifetime = 1 if tenant == "t-short" else 900
        return httpx.Response(200, json={"accessToken": f"tok{len(issued)}", "expiresIn": lifetime})

    client = gateway(handler)
    tokens = Tokens(client, "portico-admin", "s3cret")
    assert await tokens.get("t-1") == "tok1"
    assert await tokens.get("t-1") == "tok1"
    assert await tokens.get("t-2") == "tok2"
    assert await tokens.get("t-short") == "tok3"
    # Lifetime 1s with a margin of a quarter of it: renewed after 0.75s.
    await asyncio.sleep(0.8)
    assert await tokens.get("t-short") == "tok4"
    await client.close()
    assert issued == ["t-1", "t-2", "t-short", "t-short"]


def _outage(dependency: str = "postgresql", retry_after: str = "2") -> httpx.Response:
    return httpx.Response(
        503,
        json={
            "title": "Unavailable",
            "status": 503,
            "detail": "PostgreSQL is unreachable; retry in 2s",
            "service": "rollout",
            "dependency": dependency,
        },
        headers={"content-type": "application/problem+json", "retry-after": retry_after},
    )


def retrying(handler: object, waits: list[str], slept: list[float]) -> Gateway:
    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    return Gateway(
        "http://portico.test",
        transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
        timeout=0.5,
        retry_for_seconds=30,
        on_wait=waits.append,
        sleep=sleep,
    )


async def test_a_503_with_retry_after_is_retried_with_the_same_idempotency_key() -> None:
    """An outage answer is tried again after Retry-After, with the key of the first attempt,
    and the wait names what it waits for."""
    keys: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["idempotency-key"])
        return _outage() if len(keys) < 3 else httpx.Response(200, json={"ok": True})

    waits: list[str] = []
    slept: list[float] = []
    client = retrying(handler, waits, slept)
    assert await client.call("POST", "/v1/tenants/acme/rollouts", body={}) == {"ok": True}
    await client.close()
    assert len(keys) == 3
    assert len(set(keys)) == 1
    assert slept == [2.0, 2.0]
    assert waits == [
        "waiting for PostgreSQL (the rollout service answered 503); retrying in 2.0s",
        "waiting for PostgreSQL (the rollout service answered 503); retrying in 2.0s",
    ]


async def test_an_unreachable_gateway_is_waited_for_with_growing_backoff() -> None:
    """Connection failures are retried 0.5 s, 1 s, 2 s apart until the gateway answers."""
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls < 4:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, json={"state": "ok"})

    waits: list[str] = []
    slept: list[float] = []
    client = retrying(handler, waits, slept)
    assert await client.call("GET", "/v1/x") == {"state": "ok"}
    await client.close()
    assert slept == [0.5, 1.0, 2.0]
    assert waits[0] == "waiting for the gateway at http://portico.test; retrying in 0.5s"


async def test_errors_that_are_not_outages_are_not_retried() -> None:
    """A 503 without Retry-After (nothing deployed) or a 400 fails at once."""
    answers = iter(
        [
            httpx.Response(503, json={"title": "Service unavailable", "detail": "not deployed"}),
            httpx.Response(400, json={"title": "Invalid request", "detail": "bad version"}),
        ]
    )
    waits: list[str] = []
    client = retrying(lambda _: next(answers), waits, [])
    with pytest.raises(ApiError, match="503"):
        await client.call("GET", "/v1/x")
    with pytest.raises(ApiError, match="400"):
        await client.call("POST", "/v1/x", body={})
    await client.close()
    assert waits == []


async def test_retries_stop_after_their_budget_with_the_last_error() -> None:
    """A dependency that never comes back ends the call with its 503 once the budget is spent."""
    clock = [0.0]

    async def sleep(seconds: float) -> None:
        clock[0] += seconds

    client = Gateway(
        "http://portico.test",
        transport=httpx.MockTransport(lambda _: _outage()),
        retry_for_seconds=5,
        sleep=sleep,
    )
    with pytest.raises(ApiError, match="503 Unavailable: PostgreSQL is unreachable"):
        await client.call("GET", "/v1/x")
    await client.close()


def _conflict(reason: str) -> httpx.Response:
    details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason}]
    return httpx.Response(
        409,
        json={"title": "Already exists", "status": 409, "detail": "...", "details": details},
        headers={"content-type": "application/problem+json"},
    )


async def test_a_retry_whose_first_attempt_took_effect_is_told_apart() -> None:
    """After an outage, the key's first attempt may have taken effect with its answer lost:
    the client sees that as its own error (by the ErrorInfo reason), with the same key."""
    keys: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["idempotency-key"])
        return _outage() if len(keys) < 2 else _conflict("IDEMPOTENT_REQUEST_APPLIED")

    client = retrying(handler, [], [])
    with pytest.raises(AnswerLostError) as caught:
        await client.call("POST", "/v1/tenants/acme/outcomes", body={})
    await client.close()
    assert caught.value.status == 409
    assert caught.value.reasons == ("IDEMPOTENT_REQUEST_APPLIED",)
    assert len(keys) == 2
    assert len(set(keys)) == 1


async def test_another_conflict_is_not_an_answer_lost() -> None:
    client = gateway(lambda _: _conflict("SOMETHING_ELSE"))
    with pytest.raises(ApiError) as caught:
        await client.call("POST", "/v1/tenants/acme/outcomes", body={})
    await client.close()
    assert not isinstance(caught.value, AnswerLostError)
    assert caught.value.reasons == ("SOMETHING_ELSE",)
