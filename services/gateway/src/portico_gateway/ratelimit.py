"""Per-tenant rate limits on the gateway: a token bucket for each tenant.

Each tenant's bucket holds up to `burst` tokens and refills at `rate` tokens
a second; a request takes one, or is refused with 429 and a Retry-After
saying when the next token arrives. One tenant spending its budget leaves
every other tenant's untouched. (The `limits` package offers fixed and
moving windows, not a bucket with a burst and a steady refill; this is the
few lines a bucket needs, with the time passed in so tests drive it.)

Whose budget a request spends is decided by who is calling, never by what
it names: the `tenant` claim of its bearer token once the token's signature
is verified against auth's keys (`TokenVerifier`, as every service does),
else the client's address. A token of one tenant calling another tenant's
path spends its own budget (and the service refuses it), and a forged or
expired token is no better than none: it spends its client address's budget.
Platform tokens (tenant `*`) are budgeted per subject.

The buckets live in this process: with several gateway replicas a tenant
gets the rate of each replica it reaches.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from portico_common.errors import UnauthenticatedError, UnavailableError
from portico_common.grpc.tokens import Claims
from portico_common.tenants import ALL_TENANTS

# Idle buckets are full again and cost nothing to recreate: the oldest go first.
MAX_BUCKETS = 100_000
# Verified tokens remembered with their budget, so a repeated token is checked once.
MAX_REMEMBERED_TOKENS = 10_000


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


class ClaimsVerifier(Protocol):
    """What the gateway asks of a token verifier (`TokenVerifier` fits)."""

    async def verify(self, token: str) -> Claims: ...


class CallerBudgets:
    """Names the budget of a request from its verified token, else its client address.

    Verified tokens are remembered (at most `max_tokens`, least recently used
    out first) until they expire, so a client repeating its token costs one
    signature check, not one a request. Only a token that passed verification
    is remembered; a refused one is checked again each time (the verifier
    bounds what that costs auth).
    """

    def __init__(
        self,
        verifier: ClaimsVerifier | None,
        *,
        max_tokens: int = MAX_REMEMBERED_TOKENS,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._verifier = verifier
        self._max = max_tokens
        self._wall_clock = wall_clock
        self._known: OrderedDict[str, tuple[str, int]] = OrderedDict()

    async def budget_of(self, authorization: str, client: str) -> str:
        """The budget key: the verified caller's tenant, else `client:<address>`."""
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if self._verifier is None or scheme.lower() != "bearer" or not token:
            return f"client:{client}"
        known = self._known.get(token)
        if known is not None and known[1] > self._wall_clock():
            self._known.move_to_end(token)
            return known[0]
        try:
            claims = await self._verifier.verify(token)
        except (UnauthenticatedError, UnavailableError):
            # Not verifiable (forged, expired, or auth's keys unreachable): the upstream
            # answers the call; its budget is the client's.
            return f"client:{client}"
        budget = (
            f"{ALL_TENANTS}:{claims.subject}"
            if claims.tenant_id == ALL_TENANTS
            else claims.tenant_id
        )
        self._known[token] = (budget, claims.expires_at)
        if len(self._known) > self._max:
            self._known.popitem(last=False)
        return budget
