"""The demo's HTTP client for the gateway: JSON in and out, problem details as errors."""

from __future__ import annotations

import time
from typing import Any

import httpx

from portico_cli.errors import DemoError

TOKEN_PATH = "/v1/auth/token"  # noqa: S105 - a URL path, not a secret
TOKEN_TTL_SECONDS = 900
# Tokens are renewed this long before they expire, so no call races the expiry.
TOKEN_MARGIN_SECONDS = 30.0
PROBLEM_JSON = "application/problem+json"


class ApiError(DemoError):
    """The gateway answered with an error (an RFC 9457 problem where it could)."""

    def __init__(self, message: str, status: int, detail: str) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


def problem_message(method: str, path: str, response: httpx.Response) -> ApiError:
    """`METHOD path -> status title: detail`, from a problem+json body if there is one."""
    status = response.status_code
    title, detail = response.reason_phrase, ""
    content_type = response.headers.get("content-type", "")
    if PROBLEM_JSON in content_type or "json" in content_type:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            title = str(body.get("title") or title)
            detail = str(body.get("detail") or "")
    else:
        detail = response.text.strip()[:200]
    text = f"{method} {path} -> {status} {title}"
    return ApiError(f"{text}: {detail}" if detail else text, status, detail)


class Gateway:
    """Calls the gateway with a timeout on every request."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self._http = httpx.AsyncClient(
            base_url=base_url, timeout=httpx.Timeout(timeout, connect=3.0), transport=transport
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def call(
        self, method: str, path: str, *, body: dict[str, Any] | None = None, token: str = ""
    ) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        try:
            response = await self._http.request(method, path, json=body, headers=headers)
        except httpx.TimeoutException:
            raise DemoError(f"{method} {path}: no answer within {self.timeout:.0f}s") from None
        except httpx.HTTPError as exc:
            raise DemoError(
                f"{method} {path}: cannot reach the gateway at {self.base_url} ({exc})"
            ) from None
        if not response.is_success:
            raise problem_message(method, path, response)
        try:
            data = response.json()
        except ValueError:
            raise DemoError(f"{method} {path}: the answer is not JSON") from None
        if not isinstance(data, dict):
            raise DemoError(f"{method} {path}: the answer is not a JSON object")
        return data


class Tokens:
    """Service tokens of the admin client, one per tenant, renewed before expiry."""

    def __init__(self, gateway: Gateway, client_id: str, client_secret: str) -> None:
        self._gateway = gateway
        self._client_id = client_id
        self._client_secret = client_secret
        self._cache: dict[str, tuple[str, float]] = {}

    async def issue(self, tenant: str) -> tuple[str, int]:
        """A fresh token for `tenant` ("*" for all tenants) and its lifetime in seconds."""
        reply = await self._gateway.call(
            "POST",
            TOKEN_PATH,
            body={
                "clientId": self._client_id,
                "clientSecret": self._client_secret,
                "tenantId": tenant,
                "ttlSeconds": TOKEN_TTL_SECONDS,
            },
        )
        token = reply.get("accessToken")
        if not isinstance(token, str) or not token:
            raise DemoError(f"POST {TOKEN_PATH}: the answer carries no accessToken")
        lifetime = int(reply.get("expiresIn") or 60)
        margin = min(TOKEN_MARGIN_SECONDS, lifetime / 4)
        self._cache[tenant] = (token, time.monotonic() + lifetime - margin)
        return token, lifetime

    async def get(self, tenant: str) -> str:
        cached = self._cache.get(tenant)
        if cached is not None and time.monotonic() < cached[1]:
            return cached[0]
        token, _ = await self.issue(tenant)
        return token


class TenantApi:
    """The gateway as one tenant sees it: paths under /v1/tenants/{tenant}, its token."""

    def __init__(self, gateway: Gateway, tokens: Tokens, tenant: str) -> None:
        self.gateway = gateway
        self.tokens = tokens
        self.tenant = tenant

    async def call(
        self, method: str, sub_path: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        token = await self.tokens.get(self.tenant)
        return await self.gateway.call(
            method, f"/v1/tenants/{self.tenant}{sub_path}", body=body, token=token
        )
