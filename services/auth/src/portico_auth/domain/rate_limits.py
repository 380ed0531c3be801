"""Token buckets for IssueServiceToken: per client id and per source address.

Each key gets a bucket of `burst` tokens that refills at `per_second`; a
request takes one token or is refused with the time until one is back. The
buckets live in each replica's memory (N replicas admit N times the rate):
they bound the work one caller can cause (every attempt costs a scrypt
check), while the lockout, persisted, bounds secret guessing across replicas.

Time comes in as an argument, so tests drive the buckets with a ManualClock.
A `limits`-style library was not used: the ones at hand read the system
clock themselves and cannot be driven by the service's Clock.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from portico_auth.errors import TooManyAttemptsError

# Bounds the memory an attacker spraying client ids or addresses can take.
MAX_KEYS = 10_000


@dataclass(frozen=True)
class Rate:
    """Up to `burst` requests at once, refilled at `per_second`."""

    burst: int
    per_second: float

    def __post_init__(self) -> None:
        if self.burst < 1 or self.per_second <= 0:
            raise ValueError("a rate needs burst >= 1 and per_second > 0")


@dataclass
class _Bucket:
    tokens: float
    updated: datetime


class TokenBuckets:
    """One bucket per key, least recently used dropped beyond `max_keys`."""

    def __init__(self, rate: Rate, max_keys: int = MAX_KEYS) -> None:
        self.rate = rate
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str, now: datetime) -> float:
        """Takes a token for `key`: 0.0 if there was one, else the seconds until there is."""
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            bucket = _Bucket(float(self.rate.burst), now)
        elapsed = max(0.0, (now - bucket.updated).total_seconds())
        bucket.tokens = min(float(self.rate.burst), bucket.tokens + elapsed * self.rate.per_second)
        bucket.updated = now
        wait = 0.0
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
        else:
            wait = (1.0 - bucket.tokens) / self.rate.per_second
        self._buckets[key] = bucket
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return wait

    def __len__(self) -> int:
        return len(self._buckets)


class IssueThrottle:
    """The two limits on token requests: per source address first, then per client id."""

    def __init__(self, per_client: Rate, per_source: Rate, max_keys: int = MAX_KEYS) -> None:
        self.per_client = TokenBuckets(per_client, max_keys)
        self.per_source = TokenBuckets(per_source, max_keys)

    def admit(self, client_id: str, source: str, now: datetime) -> None:
        """Raises TooManyAttemptsError (with the wait) when either limit is used up."""
        wait = self.per_source.take(source, now)
        if wait:
            raise TooManyAttemptsError(f"too many token requests from {source}", wait)
        wait = self.per_client.take(client_id, now)
        if wait:
            raise TooManyAttemptsError(f"too many token requests for client {client_id!r}", wait)


DEFAULT_PER_CLIENT = Rate(burst=20, per_second=1.0)
DEFAULT_PER_SOURCE = Rate(burst=100, per_second=5.0)
