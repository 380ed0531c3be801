"""kill -9 of each process of the suite in the middle of each flow: nothing lost, nothing twice.

The suite runs as `portico up` does (every service and the gateway a process
of their own, supervised). Each run takes a tenant of its own through a
flow (a canary, a rollback saga, an install approval, an advisory import)
and SIGKILLs one process at the flow's middle; the supervisor starts it
again and the flow must finish. Then the books must balance: every event
of the tenant on the stream once and as often as the flow causes it, in
the inbox of every consumer that takes it, no outbox row unpublished, no
idempotency key in flight, nothing in the DLQ; every effect in the database
once; no rollout or saga step left unfinished.

`make test` runs one kill per process, each flow at least once;
`make chaos` (PORTICO_CHAOS_FULL=1) every flow against every process.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from portico_embedded.testing.fixtures import unique_tenant

from .flows import FLOWS, audit, prepared
from .report import FULL, Report
from .stack import PROCESSES, Suite, books_of

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

# One kill per process, each flow at least once: where the kill hurts most.
FAST = [
    ("rollback", "rollout"),  # the saga's own runner, mid step-down
    ("install", "security"),  # plugin.install.approved still in security's outbox
    ("advisories", "gateway"),  # the import's request in flight through it
    ("canary", "tenancy"),  # usage is settled when the canary completes
    ("install", "auth"),  # the approver's and the rollout's tokens
    ("rollback", "compat"),  # the saga asks compat for dependents
    ("canary", "slo"),  # the canary's SLO and outcomes
]
CASES = [(flow, target) for flow in FLOWS for target in PROCESSES] if FULL else FAST


@pytest.mark.parametrize(("flow", "target"), CASES, ids=[f"{f}-{t}" for f, t in CASES])
async def test_kill_9_in_the_middle_of_a_flow_loses_nothing_and_repeats_nothing(
    healthy: Suite, chaos_report: Report, flow: str, target: str
) -> None:
    """The flow finishes after its process comes back; every count balances."""
    suite = healthy
    tenant = unique_tenant()
    restarts = suite.restarts(target)
    killed: list[tuple[int, datetime]] = []

    async def disrupt() -> None:
        killed.append((suite.kill(target), datetime.now(UTC)))

    async with books_of(suite) as (ledger, admin):
        mark = await ledger.mark()
        started = time.monotonic()
        portal = await prepared(suite, tenant)
        try:
            expected = await FLOWS[flow](portal, disrupt, admin)
        finally:
            await portal.close()
        ((pid, killed_at),) = killed
        restarted = (await suite.back(target, pid) - killed_at).total_seconds()
        books = await audit(expected, ledger, mark, tenant, admin)
        seconds = time.monotonic() - started
    assert suite.restarts(target) == restarts + 1, suite.supervised()[target]
    note = f"; {expected.note}" if expected.note else ""
    chaos_report.add(
        f"{flow}, kill -9 {target}",
        seconds,
        f"{books.summary()}; restarted after {restarted:.1f}s{note}",
    )
