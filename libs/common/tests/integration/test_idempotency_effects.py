"""Idempotency keys recorded in the transaction of the effect, their expiry and their purge."""

from __future__ import annotations

import asyncio

import pytest

from portico_common.db import Database
from portico_common.errors import IdempotencyConflictError
from portico_common.grpc.idempotency import (
    IdempotencyStore,
    IdempotentRequestAppliedError,
    request_fingerprint,
)
from portico_common.idempotency_effects import KeyClaim, current_claim
from portico_common.retention import DAY, Retention, RetentionSettings, kernel_rules

pytestmark = pytest.mark.integration

CREATE = "/portico.tenancy.v1.TenancyService/CreateTenant"
FP = request_fingerprint(CREATE, b"\x0a\x04acme")


async def _effect(db: Database, claim: KeyClaim, *, write: bool = True) -> None:
    """One transaction of a handler running under `claim`: it writes a row, or only reads."""
    token = current_claim.set(claim)
    try:
        async with db.transaction("acme") as conn:
            if write:
                await conn.execute(
                    "INSERT INTO access_denials (tenant_id, subject, method, permission, roles,"
                    " scopes) VALUES ('acme', 'effect', 'm', 'p', '{}', '{}')"
                )
            else:
                await conn.fetchval("SELECT count(*) FROM access_denials")
    finally:
        current_claim.reset(token)


async def _effects(db: Database) -> int:
    async with db.transaction("acme") as conn:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM access_denials WHERE subject = 'effect'"
        )
    return count


async def test_the_effect_commits_with_its_key_and_a_retry_is_refused_not_run(db: Database) -> None:
    """After the effect's transaction the key is applied; a retry before any answer is refused."""
    store = IdempotencyStore(db, stale_after_seconds=0.01)
    await store.begin("acme", "k1", CREATE, FP, attempt="a1")
    await _effect(db, KeyClaim("acme", "k1", "a1"))
    await asyncio.sleep(0.05)  # long past the stale period: an applied key is never reclaimed
    with pytest.raises(IdempotentRequestAppliedError, match="took effect"):
        await store.begin("acme", "k1", CREATE, FP, attempt="a2")
    # A failure after the effect does not free the key either.
    await store.release("acme", "k1", "a1")
    with pytest.raises(IdempotentRequestAppliedError):
        await store.begin("acme", "k1", CREATE, FP, attempt="a3")
    await store.complete("acme", "k1", b"answer", "a1")
    assert await store.begin("acme", "k1", CREATE, FP, attempt="a4") == b"answer"
    assert await _effects(db) == 1


async def test_a_read_only_transaction_does_not_mark_the_key_applied(db: Database) -> None:
    """A handler that only read before failing leaves the key free for the retry."""
    store = IdempotencyStore(db)
    await store.begin("acme", "k1", CREATE, FP, attempt="a1")
    await _effect(db, KeyClaim("acme", "k1", "a1"), write=False)
    await store.release("acme", "k1", "a1")
    assert await store.begin("acme", "k1", CREATE, FP, attempt="a2") is None


async def test_a_slow_attempt_whose_claim_was_taken_over_cannot_commit(db: Database) -> None:
    """The stale attempt's effect is rolled back: only the attempt holding the key commits one."""
    store = IdempotencyStore(db, stale_after_seconds=0.01)
    await store.begin("acme", "k1", CREATE, FP, attempt="slow")
    await asyncio.sleep(0.05)
    assert await store.begin("acme", "k1", CREATE, FP, attempt="retry") is None
    await _effect(db, KeyClaim("acme", "k1", "retry"))
    with pytest.raises(IdempotencyConflictError, match="taken over by another attempt"):
        await _effect(db, KeyClaim("acme", "k1", "slow"))
    assert await _effects(db) == 1


async def test_a_key_expires_after_its_time_to_live_and_may_be_used_again(db: Database) -> None:
    """Past the time to live the stored answer is forgotten and the key claimed afresh."""
    store = IdempotencyStore(db, ttl_seconds=0.05)
    await store.begin("acme", "k1", CREATE, FP, attempt="a1")
    await store.complete("acme", "k1", b"old", "a1")
    assert await store.begin("acme", "k1", CREATE, FP, attempt="a2") == b"old"
    await asyncio.sleep(0.1)
    assert await store.begin("acme", "k1", CREATE, FP, attempt="a3") is None


async def test_the_retention_purge_deletes_keys_past_their_time_to_live_in_batches(
    db: Database,
) -> None:
    """Keys last touched before the time to live go, batch by batch; younger ones stay."""
    store = IdempotencyStore(db, ttl_seconds=3600)
    for tenant in ("acme", "beta"):
        for i in range(5):
            await store.begin(tenant, f"k{i}", CREATE, FP, attempt="a")
            await store.complete(tenant, f"k{i}", b"r", "a")
    async with db.transaction("acme") as conn:
        await conn.execute(
            "UPDATE idempotency_keys SET created_at = now() - interval '2 hours',"
            " updated_at = now() - interval '2 hours' WHERE key IN ('k0', 'k1', 'k2')"
        )
    async with db.transaction("beta") as conn:
        await conn.execute(
            "UPDATE idempotency_keys SET created_at = now() - interval '2 hours',"
            " updated_at = now() - interval '2 hours' WHERE key = 'k0'"
        )
    [keys] = [
        rule
        for rule in kernel_rules(
            RetentionSettings(idempotency_seconds=3600),
            stream_max_age_seconds=7 * DAY,
            idempotency_stale_seconds=60,
        )
        if rule.table == "idempotency_keys"
    ]
    purge = Retention(db, [keys], batch_size=2, pause_seconds=0)
    assert await purge.purge(keys) == 4
    assert await purge.purge(keys) == 0
    async with db.transaction("*") as conn:
        left = await conn.fetch("SELECT tenant_id, key FROM idempotency_keys ORDER BY 1, 2")
    assert [(r["tenant_id"], r["key"]) for r in left] == [
        ("acme", "k3"),
        ("acme", "k4"),
        *[("beta", f"k{i}") for i in range(1, 5)],
    ]
