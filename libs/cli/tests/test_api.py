"""The demo's gateway client: problem details, timeouts and token renewal."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from portico_cli.api import ApiError, Gateway, Tokens
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
