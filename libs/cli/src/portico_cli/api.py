"""The demo's HTTP client for the gateway: JSON in and out, problem details as errors."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from portico_cli.errors import DemoError

TOKEN_PATH = "/v1/auth/token"  # noqa: S105 - a URL path, not a secret
TOKEN_TTL_SECONDS = 900
# Tokens are renewed this long before they expire, so no call races the expiry.
TOKEN_MARGIN_SECONDS = 30.0
PROBLEM_JSON = "application/problem+json"
# The ErrorInfo reason of a retried request that took effect but whose answer was lost.
ANSWER_LOST = "IDEMPOTENT_REQUEST_APPLIED"


class ApiError(DemoError):
    """The gateway answered with an error (an RFC 9457 problem where it could)."""

    def __init__(
        self, message: str, status: int, detail: str, reasons: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail
        # The google.rpc.ErrorInfo reasons the problem's details carry.
        self.reasons = reasons


class AnswerLostError(ApiError):
    """A retried change took effect on an earlier attempt, but its answer was lost (an outage)."""


def problem_message(method: str, path: str, response: httpx.Response) -> ApiError:
    """`METHOD path -> status title: detail`, from a problem+json body if there is one."""
    status = response.status_code
    title, detail = response.reason_phrase, ""
    reasons: tuple[str, ...] = ()
    content_type = response.headers.get("content-type", "")
    if PROBLEM_JSON in content_type or "json" in content_type:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            title = str(body.get("title") or title)
            detail = str(body.get("detail") or "")
            reasons = _reasons(body.get("details"))
    else:
        detail = response.text.strip()[:200]
    text = f"{method} {path} -> {status} {title}"
    message = f"{text}: {detail}" if detail else text
    if status == httpx.codes.CONFLICT and ANSWER_LOST in reasons:
        return AnswerLostError(message, status, detail, reasons)
    return ApiError(message, status, detail, reasons)


def _reasons(details: object) -> tuple[str, ...]:
    """The reasons of the google.rpc.ErrorInfo entries among a problem's `details`."""
    if not isinstance(details, list):
        return ()
    return tuple(
        str(d["reason"])
        for d in details
        if isinstance(d, dict) and str(d.get("@type", "")).endswith("ErrorInfo") and d.get("reason")
    )


class Gateway:
    """Calls the gateway with a timeout on every request.

    With `retry_for_seconds` a call the suite could not serve for now (a 503
    with Retry-After: a service's database or NATS is down, or a service is
    restarting; the gateway itself unreachable; the same request still in
    flight) is tried again with backoff for that long, saying each time what it
    waits for. Every mutating call carries an idempotency key, the same on
    every attempt, so a retry never applies a change twice.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_for_seconds: float = 0.0,
        on_wait: Callable[[str], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self.retry_for_seconds = retry_for_seconds
        self._on_wait = on_wait or (lambda _: None)
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=base_url, timeout=httpx.Timeout(timeout, connect=3.0), transport=transport
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def call(
        self, method: str, path: str, *, body: dict[str, Any] | None = None, token: str = ""
    ) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        if method != "GET":
            headers["idempotency-key"] = f"cli-{uuid.uuid4()}"
        budget = self.retry_for_seconds
        retrying = AsyncRetrying(
            retry=retry_if_exception(lambda exc: isinstance(exc, Transient)),
            wait=_wait_hinted,
            # The time spent waiting counts, so a budget holds whatever `sleep` is.
            stop=lambda state: budget <= 0 or state.idle_for >= budget,
            sleep=self._sleep,
            before_sleep=self._say_wait,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._once(method, path, body, headers)
        except Transient as exc:
            raise exc.error from None
        raise AssertionError("unreachable: tenacity returns or raises")  # pragma: no cover

    def _say_wait(self, state: RetryCallState) -> None:
        failed = state.outcome.exception() if state.outcome is not None else None
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        if isinstance(failed, Transient):
            self._on_wait(f"waiting for {failed.waiting_for}; retrying in {delay:.1f}s")

    async def _once(
        self, method: str, path: str, body: dict[str, Any] | None, headers: dict[str, str]
    ) -> dict[str, Any]:
        try:
            response = await self._http.request(method, path, json=body, headers=headers)
        except httpx.TimeoutException:
            raise DemoError(f"{method} {path}: no answer within {self.timeout:.0f}s") from None
        except httpx.HTTPError as exc:
            error = DemoError(
                f"{method} {path}: cannot reach the gateway at {self.base_url} ({exc})"
            )
            raise Transient(error, f"the gateway at {self.base_url}", 0.0) from None
        if not response.is_success:
            raise _transient_or(problem_message(method, path, response), response)
        try:
            data = response.json()
        except ValueError:
            raise DemoError(f"{method} {path}: the answer is not JSON") from None
        if not isinstance(data, dict):
            raise DemoError(f"{method} {path}: the answer is not a JSON object")
        return data


class Transient(Exception):  # noqa: N818 - a retry signal wrapping the error, not an error itself
    """A failure worth another try: what it waits for and the server's hint (seconds)."""

    def __init__(self, error: DemoError, waiting_for: str, retry_after: float) -> None:
        super().__init__(str(error))
        self.error = error
        self.waiting_for = waiting_for
        self.retry_after = retry_after


def _transient_or(error: ApiError, response: httpx.Response) -> Exception:
    """`error` as a Transient when the gateway says to come back, else `error` itself."""
    hint = response.headers.get("retry-after", "")
    if error.status == httpx.codes.SERVICE_UNAVAILABLE and hint.isdigit():
        return Transient(error, _what_is_down(response), float(hint))
    if error.status == httpx.codes.CONFLICT and "in flight" in error.detail:
        # The same request (same idempotency key) is still being applied, or was
        # cut off by an outage: its claim lapses, then the retry goes through.
        return Transient(error, "an earlier attempt of this request to finish", 2.0)
    return error


def _what_is_down(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return "the suite"
    dependency = str(body.get("dependency") or "")
    service = str(body.get("service") or "")
    names = {"postgresql": "PostgreSQL", "nats": "NATS", "upstream-service": "a service"}
    if dependency and dependency != service:
        return f"{names.get(dependency, dependency)} (the {service} service answered 503)"
    return f"the {service or dependency} service"


def _wait_hinted(state: RetryCallState) -> float:
    """Exponential backoff from 0.5 s to 5 s, never sooner than the server's Retry-After."""
    backoff = min(5.0, 0.5 * 2.0 ** min(state.attempt_number - 1, 8))
    failed = state.outcome.exception() if state.outcome is not None else None
    hint = failed.retry_after if isinstance(failed, Transient) else 0.0
    return max(backoff, hint)


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
