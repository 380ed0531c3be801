"""A pooled connection the server dropped mid-message is closed and reported as an outage."""

from __future__ import annotations

from types import TracebackType
from typing import Any, cast

import asyncpg
import pytest

from portico_common.db import Database
from portico_common.outages import POSTGRESQL, DependencyUnavailableError

LEFT_MID_MESSAGE = "cannot switch to state 15; another operation (2) is in progress"
STATEMENT_IN_PROGRESS = "cannot switch to state 15; another operation (12) is in progress"


class Transaction:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def __aenter__(self) -> None:
        if self.conn.broken:
            raise asyncpg.InternalClientError(LEFT_MID_MESSAGE)
        self.conn.statements.append("BEGIN")

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.conn.statements.append("ROLLBACK" if exc else "COMMIT")


class Connection:
    """Just what Database.transaction asks of a pooled connection."""

    def __init__(self, *, broken: bool) -> None:
        self.broken = broken
        self.terminated = False
        self.statements: list[str] = []

    def transaction(self) -> Transaction:
        return Transaction(self)

    async def execute(self, sql: str, *args: Any) -> str:
        self.statements.append(f"{sql} {args}")
        return "SELECT 1"

    async def fetchrow(self, sql: str, *args: Any) -> tuple[str, str]:
        # Entering the tenant answers its placement: the shared tables.
        self.statements.append(f"{sql} {args}")
        return ("pool", "")

    def terminate(self) -> None:
        self.terminated = True


class Pool:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.released: list[Connection] = []

    async def acquire(self) -> Connection:
        return self.conn

    async def release(self, conn: Connection) -> None:
        self.released.append(conn)


async def test_a_connection_that_cannot_begin_is_closed_and_answered_as_an_outage() -> None:
    """BEGIN fails on a connection left mid-message: closed, released, PostgreSQL unavailable."""
    conn = Connection(broken=True)
    pool = Pool(conn)
    db = Database(cast("asyncpg.Pool", pool), "rollout")
    with pytest.raises(DependencyUnavailableError) as raised:
        async with db.transaction("acme"):
            pytest.fail("the block must not run on a broken connection")
    assert raised.value.dependency == POSTGRESQL
    assert isinstance(raised.value.__cause__, asyncpg.InternalClientError)
    assert conn.terminated
    assert pool.released == [conn]


async def test_two_statements_at_once_inside_a_begun_transaction_stay_what_they_are() -> None:
    """Once the transaction has begun, a statement clashing with another is the code's fault."""
    conn = Connection(broken=False)
    pool = Pool(conn)
    db = Database(cast("asyncpg.Pool", pool), "rollout")
    with pytest.raises(asyncpg.InternalClientError, match="another operation"):
        async with db.transaction("acme"):
            raise asyncpg.InternalClientError(STATEMENT_IN_PROGRESS)
    assert not conn.terminated
    assert conn.statements[0] == "BEGIN"
    assert conn.statements[-1] == "ROLLBACK"
    assert pool.released == [conn]


async def test_a_backend_terminated_between_two_statements_is_answered_as_an_outage() -> None:
    """PostgreSQL ending the backend mid-transaction (a restart): no COMMIT was sent, so
    nothing took effect; the connection is closed and the caller told to retry."""
    conn = Connection(broken=False)
    pool = Pool(conn)
    db = Database(cast("asyncpg.Pool", pool), "rollout")
    with pytest.raises(DependencyUnavailableError) as raised:
        async with db.transaction("acme"):
            raise asyncpg.InternalClientError(LEFT_MID_MESSAGE)
    assert raised.value.dependency == POSTGRESQL
    assert conn.terminated
    assert pool.released == [conn]
