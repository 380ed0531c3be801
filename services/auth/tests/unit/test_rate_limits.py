"""Token buckets for IssueServiceToken, per client id and per source, on a ManualClock."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from portico_auth.adapters.memory import AuthMemoryStore
from portico_auth.app import handlers
from portico_auth.app.handlers import Policies, Throttling
from portico_auth.domain.rate_limits import IssueThrottle, Rate, TokenBuckets
from portico_auth.errors import InvalidClientCredentialsError, TooManyAttemptsError
from portico_common.clock import ManualClock

ADMIN_SECRET = "admin-secret-0123456789"


def test_a_bucket_allows_its_burst_then_refills_at_its_rate(t0: datetime) -> None:
    """Three at once, then one every 2 s: the fourth waits 2 s, and after 2 s it passes."""
    buckets = TokenBuckets(Rate(burst=3, per_second=0.5))
    assert [buckets.take("k", t0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("k", t0) == pytest.approx(2.0)
    assert buckets.take("k", t0 + timedelta(seconds=1)) == pytest.approx(1.0)
    assert buckets.take("k", t0 + timedelta(seconds=2)) == 0.0
    assert buckets.take("k", t0 + timedelta(seconds=2)) == pytest.approx(2.0)


def test_a_refused_request_takes_nothing(t0: datetime) -> None:
    """Hammering an empty bucket does not push the next token further away."""
    buckets = TokenBuckets(Rate(burst=1, per_second=1.0))
    buckets.take("k", t0)
    for _ in range(50):
        assert buckets.take("k", t0) == pytest.approx(1.0)
    assert buckets.take("k", t0 + timedelta(seconds=1)) == 0.0


def test_a_bucket_never_holds_more_than_its_burst(t0: datetime) -> None:
    """An hour of quiet refills to the burst, not beyond it."""
    buckets = TokenBuckets(Rate(burst=2, per_second=10.0))
    later = t0 + timedelta(hours=1)
    assert [buckets.take("k", later) for _ in range(3)][-1] > 0.0


def test_keys_have_their_own_buckets_and_the_oldest_are_dropped(t0: datetime) -> None:
    """Each key has a bucket; beyond max_keys the least recently used one goes."""
    buckets = TokenBuckets(Rate(burst=1, per_second=0.001), max_keys=2)
    assert buckets.take("a", t0) == 0.0
    assert buckets.take("b", t0) == 0.0
    assert buckets.take("a", t0) > 0.0  # a is now the most recently used
    assert buckets.take("c", t0) == 0.0
    assert len(buckets) == 2
    assert buckets.take("b", t0) == 0.0  # b was dropped: a fresh bucket


def test_a_rate_refuses_nonsense() -> None:
    """A burst under one or a rate of zero is a configuration error."""
    with pytest.raises(ValueError, match="burst"):
        Rate(burst=0, per_second=1)
    with pytest.raises(ValueError, match="per_second"):
        Rate(burst=1, per_second=0)


def test_the_source_limit_is_checked_first_and_spares_the_client(t0: datetime) -> None:
    """A refused source takes no token from the client's bucket; both errors name the key."""
    throttle = IssueThrottle(Rate(burst=2, per_second=1), Rate(burst=1, per_second=0.25))
    throttle.admit("bot", "10.0.0.1", t0)
    with pytest.raises(TooManyAttemptsError) as caught:
        throttle.admit("bot", "10.0.0.1", t0)
    assert str(caught.value) == "too many token requests from 10.0.0.1; retry after 4 s"
    throttle.admit("bot", "10.0.0.2", t0)
    with pytest.raises(TooManyAttemptsError) as caught:
        throttle.admit("bot", "10.0.0.3", t0)
    assert str(caught.value) == "too many token requests for client 'bot'; retry after 1 s"
    assert caught.value.retry_after_seconds == 1


@pytest.fixture
async def ready(store: AuthMemoryStore) -> AuthMemoryStore:
    await handlers.ensure_signing_key(store.open, Policies().keys)
    await handlers.upsert_admin_client(store.open, "portico-admin", ADMIN_SECRET)
    return store


async def test_issuance_is_throttled_before_any_secret_is_checked(
    ready: AuthMemoryStore, clock: ManualClock
) -> None:
    """Over the limit, even wrong secrets are refused unchecked: no lockout count grows."""
    throttling = Throttling(
        IssueThrottle(Rate(burst=2, per_second=0.5), Rate(burst=100, per_second=100)), clock
    )

    async def issue(secret: str) -> object:
        return await handlers.issue_service_token(
            ready.open,
            Policies(),
            client_id="portico-admin",
            client_secret=secret,
            tenant_id="acme",
            scopes=[],
            ttl_seconds=0,
            throttling=throttling,
            source="10.0.0.1",
        )

    assert await issue(ADMIN_SECRET)
    with pytest.raises(InvalidClientCredentialsError):
        await issue("wrong-secret-0123456789")
    with pytest.raises(TooManyAttemptsError, match="retry after 2 s"):
        await issue("wrong-secret-0123456789")
    assert ready.state.lockouts["portico-admin"].failures == 1
    clock.advance(2)
    assert await issue(ADMIN_SECRET)
