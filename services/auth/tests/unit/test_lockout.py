"""Lockout after repeated bad secrets, in the domain and through token issuance (ManualClock)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from portico_auth.adapters.memory import AuthMemoryStore
from portico_auth.app import handlers
from portico_auth.app.handlers import Policies
from portico_auth.domain.lockout import FailedAttempts, LockoutPolicy, record_failure
from portico_auth.errors import InvalidClientCredentialsError, TooManyAttemptsError
from portico_common.clock import ManualClock

POLICY = LockoutPolicy(max_failures=3, window=timedelta(minutes=5), duration=timedelta(minutes=15))
ADMIN_SECRET = "admin-secret-0123456789"


def _fail(times: int, start: datetime, every: timedelta = timedelta(seconds=1)) -> FailedAttempts:
    attempts = None
    for i in range(times):
        attempts = record_failure(attempts, "bot", start + i * every, POLICY)
    assert attempts is not None
    return attempts


def test_failures_below_the_limit_do_not_lock(t0: datetime) -> None:
    """Two bad secrets of three allowed are counted in one window, unlocked."""
    attempts = _fail(2, t0)
    assert (attempts.failures, attempts.window_started_at) == (2, t0)
    assert not attempts.locked(t0 + timedelta(seconds=2))


def test_the_failure_that_reaches_the_limit_locks_for_the_duration(t0: datetime) -> None:
    """The third bad secret within the window locks the client id for 15 minutes from then."""
    attempts = _fail(3, t0)
    third = t0 + timedelta(seconds=2)
    assert attempts.locked_until == third + POLICY.duration
    assert attempts.locked(third + POLICY.duration - timedelta(seconds=1))
    assert not attempts.locked(third + POLICY.duration)
    with pytest.raises(TooManyAttemptsError) as caught:
        attempts.check_not_locked(third + timedelta(minutes=10))
    assert caught.value.code == "RESOURCE_EXHAUSTED"
    assert caught.value.retry_after_seconds == 300
    assert str(caught.value) == (
        "client 'bot' is locked out after 3 failed attempts; retry after 300 s"
    )


def test_failures_spread_beyond_the_window_never_lock(t0: datetime) -> None:
    """A bad secret every three minutes starts a new window each time the last one ran out."""
    attempts = _fail(10, t0, every=timedelta(minutes=3))
    assert attempts.locked_until is None
    assert attempts.failures <= 2


def test_after_a_lock_ends_counting_starts_again(t0: datetime) -> None:
    """The first bad secret after a lock is the first of a new window."""
    locked = _fail(3, t0)
    assert locked.locked_until is not None
    after = record_failure(locked, "bot", locked.locked_until, POLICY)
    assert (after.failures, after.window_started_at, after.locked_until) == (
        1,
        locked.locked_until,
        None,
    )


def test_a_racing_failure_during_a_lock_keeps_it(t0: datetime) -> None:
    """A failure recorded while locked (checked before the lock was set) changes nothing."""
    locked = _fail(3, t0)
    assert record_failure(locked, "bot", t0 + timedelta(minutes=1), POLICY) == locked


def test_the_policy_refuses_nonsense() -> None:
    """No failures allowed, or a window or duration of zero, is a configuration error."""
    for bad in (
        {"max_failures": 0},
        {"window": timedelta(0)},
        {"duration": timedelta(seconds=-1)},
    ):
        with pytest.raises(ValueError, match="lockout"):
            LockoutPolicy(**bad)  # type: ignore[arg-type]


@pytest.fixture
async def ready(store: AuthMemoryStore) -> AuthMemoryStore:
    """A store on the manual clock with a signing key and the admin client."""
    await handlers.ensure_signing_key(store.open, Policies().keys)
    await handlers.upsert_admin_client(store.open, "portico-admin", ADMIN_SECRET)
    return store


async def _issue(store: AuthMemoryStore, secret: str, client_id: str = "portico-admin") -> str:
    issued = await handlers.issue_service_token(
        store.open,
        Policies(lockout=POLICY),
        client_id=client_id,
        client_secret=secret,
        tenant_id="acme",
        scopes=[],
        ttl_seconds=0,
    )
    return issued.token


async def test_bad_secrets_lock_the_client_out_even_with_the_right_one(
    ready: AuthMemoryStore, clock: ManualClock
) -> None:
    """Three bad secrets lock the admin out: the right secret is refused until the lock ends."""
    for _ in range(3):
        with pytest.raises(InvalidClientCredentialsError):
            await _issue(ready, "wrong-secret-0123456789")
        clock.advance(10)
    with pytest.raises(TooManyAttemptsError, match="locked out after 3 failed attempts"):
        await _issue(ready, ADMIN_SECRET)
    assert ready.state.lockouts["portico-admin"].failures == 3
    clock.advance(minutes=15)
    assert await _issue(ready, ADMIN_SECRET)
    assert "portico-admin" not in ready.state.lockouts


async def test_a_success_clears_earlier_failures(ready: AuthMemoryStore) -> None:
    """Two bad secrets, then the right one: the count starts from zero again."""
    for _ in range(2):
        with pytest.raises(InvalidClientCredentialsError):
            await _issue(ready, "wrong-secret-0123456789")
    await _issue(ready, ADMIN_SECRET)
    assert ready.state.lockouts == {}
    for _ in range(2):
        with pytest.raises(InvalidClientCredentialsError):
            await _issue(ready, "wrong-secret-0123456789")
    assert await _issue(ready, ADMIN_SECRET)


async def test_unknown_client_ids_lock_out_alike(ready: AuthMemoryStore) -> None:
    """An unknown id is counted and locked like a known one: the lockout reveals nothing."""
    for _ in range(3):
        with pytest.raises(InvalidClientCredentialsError, match="invalid client credentials"):
            await _issue(ready, "whatever-secret-0123", client_id="nobody")
    with pytest.raises(TooManyAttemptsError, match="'nobody' is locked out"):
        await _issue(ready, "whatever-secret-0123", client_id="nobody")


async def test_malformed_client_ids_are_refused_without_a_record(ready: AuthMemoryStore) -> None:
    """An id no client could have is refused as bad credentials and leaves no row behind."""
    with pytest.raises(InvalidClientCredentialsError):
        await _issue(ready, "whatever-secret-0123", client_id="no such id!")
    assert ready.state.lockouts == {}


async def test_restarting_auth_lifts_the_admin_clients_lockout(ready: AuthMemoryStore) -> None:
    """Upserting the admin client from the settings (every start) clears its lockout."""
    for _ in range(3):
        with pytest.raises(InvalidClientCredentialsError):
            await _issue(ready, "wrong-secret-0123456789")
    await handlers.upsert_admin_client(ready.open, "portico-admin", ADMIN_SECRET)
    assert await _issue(ready, ADMIN_SECRET)


async def test_pruning_keeps_locks_and_open_windows(
    ready: AuthMemoryStore, clock: ManualClock
) -> None:
    """prune_lockouts deletes only records neither locked nor in a running window."""
    with pytest.raises(InvalidClientCredentialsError):
        await _issue(ready, "x" * 20, client_id="once")
    for _ in range(3):
        with pytest.raises(InvalidClientCredentialsError):
            await _issue(ready, "x" * 20, client_id="locked")
    assert await handlers.prune_lockouts(ready.open, POLICY) == 0
    clock.advance(minutes=6)
    assert await handlers.prune_lockouts(ready.open, POLICY) == 1
    assert set(ready.state.lockouts) == {"locked"}
    clock.advance(minutes=10)
    assert await handlers.prune_lockouts(ready.open, POLICY) == 1
    assert ready.state.lockouts == {}
