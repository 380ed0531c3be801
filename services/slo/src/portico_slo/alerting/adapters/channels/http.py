"""POSTing JSON to a receiver, with Alertmanager's notion of what a retry can fix.

A 2xx is taken; 408, 429 and 5xx may pass on a retry; any other status will
not. Errors name the receiver and the status, never the URL (a webhook URL
is a secret), and quote at most a short, redacted part of the answer.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from portico_slo.alerting.errors import DeliveryFailedError

MAX_QUOTED = 200


def _quote(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, "[redacted]")
    text = " ".join(text.split())
    return text[:MAX_QUOTED]


class HttpPoster:
    """Sends one request per attempt; a fresh client each time (alerts are rare, URLs vary)."""

    def __init__(self, *, timeout_seconds: float = 10.0) -> None:
        self._timeout = timeout_seconds

    async def post(
        self,
        url: str,
        body: bytes,
        *,
        what: str,
        headers: Mapping[str, str] | None = None,
        secrets: tuple[str, ...] = (),
    ) -> int:
        """POSTs `body` as JSON; returns the status, or raises DeliveryFailedError."""
        try:
            async with httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as client:
                response = await client.post(
                    url,
                    content=body,
                    headers={"Content-Type": "application/json", **(headers or {})},
                )
        except httpx.TimeoutException:
            raise DeliveryFailedError(f"{what}: timed out", retryable=True) from None
        except httpx.HTTPError as exc:
            raise DeliveryFailedError(
                f"{what}: {type(exc).__name__} (receiver unreachable)", retryable=True
            ) from None
        status = response.status_code
        if 200 <= status < 300:
            return status
        retryable = status in (408, 429) or status >= 500
        answer = _quote(response.text, (url, *secrets))
        raise DeliveryFailedError(
            f"{what} answered HTTP {status}" + (f": {answer}" if answer else ""),
            retryable=retryable,
            status_code=status,
        )
