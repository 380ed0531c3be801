"""Per-tenant rate limits on the gateway: a token bucket for each tenant.

Each tenant's bucket holds up to `burst` tokens and refills at `rate` tokens
a second; a request takes one, or is refused with 429 and a Retry-After
saying when the next token arrives. One tenant spending its budget leaves
every other tenant's untouched. (The `limits` package offers fixed and
moving windows, not a bucket with a burst and a steady refill; this is the
few lines a bucket needs, with the time passed in so tests drive it.)

The tenant is the one the request names (its `tenant_id`), else the
`tenant` claim of its bearer token, else the client address. The gateway
does not verify tokens (upstreams do), so a caller naming another tenant
spends that tenant's budget on calls the upstream then refuses; verifying
tokens at the gateway would close that.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections import OrderedDict
from dataclasses import dataclass

# Idle buckets are full again and cost nothing to recreate: the oldest go first.
MAX_BUCKETS = 100_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class TenantRateLimiter:
    """Token buckets by tenant; `take` answers 0 when allowed, else seconds until a token."""

    def __init__(self, rate: float, burst: int, *, max_buckets: int = MAX_BUCKETS) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a rate limit needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._max = max_buckets

    def take(self, tenant: str, now: float) -> float:
        """Takes a token from the tenant's bucket at time `now` (seconds, monotonic)."""
        bucket = self._buckets.pop(tenant, None) or _Bucket(float(self.burst), now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        self._buckets[tenant] = bucket
        if len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate


def retry_after_header(wait_seconds: float) -> str:
    """Retry-After in whole seconds, never 0 for a refused request."""
    return str(max(1, math.ceil(wait_seconds)))


def tenant_of(message_tenant: str, authorization: str, client: str) -> str:
    """Who a request's budget belongs to (see the module docstring)."""
    if message_tenant:
        return message_tenant
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.count(".") == 2:
        claim = _unverified_tenant(token.split(".")[1])
        if claim:
            return claim
    return f"client:{client}"


def _unverified_tenant(payload: str) -> str:
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, binascii.Error):
        return ""
    tenant = claims.get("tenant") if isinstance(claims, dict) else None
    return tenant if isinstance(tenant, str) and len(tenant) <= 128 else ""
