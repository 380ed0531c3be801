"""Idempotency keys in PostgreSQL with Stripe's semantics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from portico_common.db import Connection, Database
from portico_common.errors import IdempotencyConflictError, InvalidArgumentError
from portico_common.grpc.idempotency import IdempotencyStore, request_fingerprint

pytestmark = pytest.mark.integration

CREATE = "/portico.tenancy.v1.TenancyService/CreateTenant"
DELETE = "/portico.tenancy.v1.TenancyService/DeleteTenant"
REQUEST = b"\x0a\x04acme"
OTHER_REQUEST = b"\x0a\x04beta"


def _fp(request: bytes = REQUEST, method: str = CREATE) -> bytes:
    return request_fingerprint(method, request)


async def test_first_request_claims_the_key(db: Database) -> None:
    """An unused key is claimed: begin returns no stored response, so the call runs."""
    assert await IdempotencyStore(db).begin("acme", "k1", CREATE, _fp()) is None


async def test_same_key_and_request_replays_the_response(db: Database) -> None:
    """After completion, the same key and request get the stored response bytes back."""
    store = IdempotencyStore(db)
    await store.begin("acme", "k1", CREATE, _fp())
    await store.complete("acme", "k1", b"response-1")
    assert await store.begin("acme", "k1", CREATE, _fp()) == b"response-1"
    assert await store.begin("acme", "k1", CREATE, _fp()) == b"response-1"


async def test_empty_response_is_replayed_too(db: Database) -> None:
    """A response that serializes to no bytes is still a stored response, not a fresh claim."""
    store = IdempotencyStore(db)
    await store.begin("acme", "k1", CREATE, _fp())
    await store.complete("acme", "k1", b"")
    assert await store.begin("acme", "k1", CREATE, _fp()) == b""


async def test_same_key_with_another_request_is_invalid(db: Database) -> None:
    """Reusing a completed key for a different request body is INVALID_ARGUMENT."""
    store = IdempotencyStore(db)
    await store.begin("acme", "k1", CREATE, _fp())
    await store.complete("acme", "k1", b"response-1")
    with pytest.raises(
        InvalidArgumentError,
        match=r"^idempotency-key 'k1' was already used for a different request$",
    ):
        await store.begin("acme", "k1", CREATE, _fp(OTHER_REQUEST))
    assert await store.begin("acme", "k1", CREATE, _fp()) == b"response-1"


async def test_same_key_on_another_method_is_invalid(db: Database) -> None:
    """The same bytes sent to another RPC under a used key are a different request."""
    store = IdempotencyStore(db)
    await store.begin("acme", "k1", CREATE, _fp())
    await store.complete("acme", "k1", b"response-1")
    with pytest.raises(InvalidArgumentError, match="different request"):
        await store.begin("acme", "k1", DELETE, _fp(method=DELETE))


async def test_key_in_flight_is_a_conflict(db: Database) -> None:
    """While the first request runs, a retry with the same key is told to back off."""
    store = IdempotencyStore(db)
    await store.begin("acme", "k1", CREATE, _fp())
    with pytest.raises(
        IdempotencyConflictError, match=r"^a request with idempotency-key 'k1' is in flight$"
    ):
        await store.begin("acme", "k1", CREATE, _fp())


async def test_concurrent_claims_let_exactly_one_run(db: Database) -> None:
    """Of several simultaneous requests with one key, one runs and the rest conflict."""
    store = IdempotencyStore(db)
    results = await asyncio.gather(
        *(store.begin("acme", "k1", CREATE, _fp()) for _ in range(5)), return_exceptions=True
    )
    assert results.count(None) == 1
    assert all(isinstance(r, IdempotencyConflictError) for r in results if r is not None)


async def test_release_after_failure_frees_the_key(db: Database) -> None:
    """A failed request releases its key, so the client's retry runs for real."""
    store = IdempotencyStore(db)
    await store.begin("acme", "k1", CREATE, _fp())
    await store.release("acme", "k1")
    assert await store.begin("acme", "k1", CREATE, _fp()) is None


async def test_release_keeps_a_completed_response(db: Database) -> None:
    """Releasing a key whose request completed does not forget the stored response."""
    store = IdempotencyStore(db)
    await store.begin("acme", "k1", CREATE, _fp())
    await store.complete("acme", "k1", b"response-1")
    await store.release("acme", "k1")
    assert await store.begin("acme", "k1", CREATE, _fp()) == b"response-1"


async def test_stale_claim_is_reclaimed(db: Database) -> None:
    """A key left in flight by a crashed process is claimable after the stale period."""
    store = IdempotencyStore(db, stale_after_seconds=0.05)
    await store.begin("acme", "k1", CREATE, _fp())
    await asyncio.sleep(0.1)
    assert await store.begin("acme", "k1", CREATE, _fp()) is None


async def test_keys_are_per_tenant(db: Database) -> None:
    """The same key string used by two tenants names two independent requests."""
    store = IdempotencyStore(db)
    await store.begin("acme", "k1", CREATE, _fp())
    await store.complete("acme", "k1", b"acme-response")
    assert await store.begin("beta", "k1", CREATE, _fp(OTHER_REQUEST)) is None
    await store.complete("beta", "k1", b"beta-response")
    assert await store.begin("acme", "k1", CREATE, _fp()) == b"acme-response"
    assert await store.begin("beta", "k1", CREATE, _fp(OTHER_REQUEST)) == b"beta-response"


async def test_one_tenant_cannot_complete_or_release_anothers_key(db: Database) -> None:
    """complete and release for the wrong tenant touch nothing (row-level security)."""
    store = IdempotencyStore(db)
    await store.begin("acme", "k1", CREATE, _fp())
    await store.release("beta", "k1")
    await store.complete("beta", "k1", b"forged")
    with pytest.raises(IdempotencyConflictError):
        await store.begin("acme", "k1", CREATE, _fp())


class _Outages(Database):
    """The test's database, failing every transaction as PostgreSQL gone away would."""

    down = False

    @asynccontextmanager
    async def transaction(self, tenant_id: str) -> AsyncIterator[Connection]:
        if self.down:
            raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
        async with super().transaction(tenant_id) as conn:
            yield conn


async def test_a_release_lost_to_an_outage_is_written_once_postgres_is_back(db: Database) -> None:
    """A failed request's key whose release PostgreSQL could not take is freed by the
    next claim after the outage, so the retry runs at once instead of after the stale period."""
    flaky = _Outages(db.pool, db.schema)
    store = IdempotencyStore(flaky, stale_after_seconds=3600)
    assert await store.begin("acme", "k1", CREATE, _fp()) is None
    flaky.down = True
    with pytest.raises(ConnectionRefusedError):
        await store.release("acme", "k1")
    with pytest.raises(ConnectionRefusedError):
        await store.begin("acme", "k1", CREATE, _fp())
    flaky.down = False
    assert await store.begin("acme", "k1", CREATE, _fp()) is None
    # The new claim is a claim like any other: a concurrent duplicate still conflicts.
    with pytest.raises(IdempotencyConflictError):
        await store.begin("acme", "k1", CREATE, _fp())


async def test_an_unwritten_release_never_frees_a_later_claim(db: Database) -> None:
    """The lost release frees only the claim its request made: once another replica has
    claimed the key again (after the stale period), that claim stays in flight."""
    flaky = _Outages(db.pool, db.schema)
    store = IdempotencyStore(flaky, stale_after_seconds=0.05)
    other_replica = IdempotencyStore(db, stale_after_seconds=0.05)
    await store.begin("acme", "k1", CREATE, _fp())
    flaky.down = True
    with pytest.raises(ConnectionRefusedError):
        await store.release("acme", "k1")
    flaky.down = False
    await asyncio.sleep(0.1)
    assert await other_replica.begin("acme", "k1", CREATE, _fp()) is None
    other_replica_stale = IdempotencyStore(db, stale_after_seconds=3600)
    assert await store.begin("acme", "k2", CREATE, _fp()) is None  # writes the lost release
    with pytest.raises(IdempotencyConflictError):
        await other_replica_stale.begin("acme", "k1", CREATE, _fp())


async def test_a_key_whose_completion_was_lost_stays_in_flight(db: Database) -> None:
    """A request that ran but whose response could not be stored may have committed its
    effect: its key is not released by the outage handling, only by the stale period."""
    flaky = _Outages(db.pool, db.schema)
    store = IdempotencyStore(flaky, stale_after_seconds=3600)
    await store.begin("acme", "k1", CREATE, _fp())
    flaky.down = True
    with pytest.raises(ConnectionRefusedError):
        await store.complete("acme", "k1", b"response-1")
    await store.release("acme", "k1")  # the interceptor's release after complete failed
    flaky.down = False
    with pytest.raises(IdempotencyConflictError):
        await store.begin("acme", "k1", CREATE, _fp())
