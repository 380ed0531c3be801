"""A transaction's outcome is its COMMIT's, whatever happens to its connection afterwards."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from portico_common.db import Database

pytestmark = pytest.mark.integration


class _ResetFails:
    """The test's pool, whose connections fail to reset on release as after a lost server."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self.released = 0

    async def acquire(self) -> Any:
        return await self._pool.acquire()

    async def release(self, conn: Any) -> None:
        self.released += 1
        await self._pool.release(conn)
        raise asyncpg.InternalClientError(
            "cannot switch to state 15; another operation (2) is in progress"
        )


async def test_a_committed_transaction_stands_when_its_connection_cannot_be_reset(
    db: Database,
) -> None:
    """The write commits and the caller sees success although the pool's reset of the
    connection failed (the pool closes such a connection itself)."""
    failing = _ResetFails(db.pool)
    flaky = Database(failing, db.schema)  # type: ignore[arg-type]
    async with flaky.transaction("acme") as conn:
        await conn.execute(
            "INSERT INTO idempotency_keys (tenant_id, key, method, request_hash, state)"
            " VALUES ('acme', 'release-test', 'm', '\\x00', 'in_flight')"
        )
    assert failing.released == 1
    async with db.transaction("acme") as conn:
        found = await conn.fetchval(
            "SELECT count(*) FROM idempotency_keys WHERE key = 'release-test'"
        )
    assert found == 1


async def test_the_bodys_error_is_the_one_raised_when_the_reset_fails_too(db: Database) -> None:
    """A transaction that failed reports its own error, not the pool's on release."""
    flaky = Database(_ResetFails(db.pool), db.schema)  # type: ignore[arg-type]
    with pytest.raises(asyncpg.UndefinedTableError):
        async with flaky.transaction("acme") as conn:
            await conn.execute("SELECT * FROM no_such_table")
