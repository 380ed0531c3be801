"""NATS and PostgreSQL killed with SIGKILL in the middle of a canary, restarted on their data.

`portico up` restarts an embedded server that dies on the same port and the
same data (the stream's store, the database's files). While it is down the
services answer 503 with Retry-After, which the client waits out; the
canary then completes, the next version's canary fails its SLO and is
rolled back, and the books balance: every event once on the stream and in
every inbox that takes it, nothing left unpublished, in flight or dead.
"""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime

import pytest

from portico_embedded.testing.fixtures import unique_tenant

from .flows import audit, prepared, rollback
from .report import Report
from .stack import SERVERS, Suite, books_of

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

canary_then_rollback = functools.partial(rollback, canary_first=True)


@pytest.mark.parametrize("server", SERVERS)
async def test_a_server_killed_mid_canary_comes_back_on_its_data_and_nothing_is_lost(
    healthy: Suite, chaos_report: Report, server: str
) -> None:
    """The canary completes and the next one rolls back; every event arrives once."""
    suite = healthy
    tenant = unique_tenant()
    restarts = suite.restarts(server)
    killed: list[tuple[int, datetime]] = []

    async def disrupt() -> None:
        killed.append((suite.kill(server), datetime.now(UTC)))

    async with books_of(suite) as (ledger, admin):
        mark = await ledger.mark()
        started = time.monotonic()
        portal = await prepared(suite, tenant)
        try:
            expected = await canary_then_rollback(portal, disrupt, admin)
        finally:
            await portal.close()
        ((pid, killed_at),) = killed
        restarted = (await suite.back(server, pid) - killed_at).total_seconds()
    # PostgreSQL's restart ended every connection made before it: count on new ones.
    async with books_of(suite) as (ledger, admin):
        books = await audit(expected, ledger, mark, tenant, admin)
    seconds = time.monotonic() - started
    assert suite.restarts(server) == restarts + 1, suite.supervised()[server]
    chaos_report.add(
        f"canary + rollback, kill -9 {server}",
        seconds,
        f"{books.summary()}; restarted after {restarted:.1f}s",
    )
