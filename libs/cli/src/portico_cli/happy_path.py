"""The demo's happy path: a signed, compatible version goes live, 10 -> 25 -> 50 -> 100%.

The version goes through security and compat, then its canary grows phase by
phase while good outcomes are reported and every demo user's version is
checked for stickiness.
"""

from __future__ import annotations

import asyncio
import time

from portico_cli.errors import DemoError
from portico_cli.local_catalog import PLUGIN
from portico_cli.scenario import (
    COMPLETED,
    IN_PROGRESS,
    POLL_SECONDS,
    REFUSED,
    ROLLED_BACK,
    PathResult,
    Scenario,
    short,
)

# Outcomes reported as soon as a phase opens, and on every poll while the
# canary runs: above rollout's default minimum of 20 canary samples per phase.
# A short bake can open and end between two polls (a slow machine, or one
# catching up after an outage), judged on what one poll reported before the
# demo saw the phase: each report alone must be enough, or the phase holds
# for rollout's recheck interval.
PHASE_OUTCOMES = 30


async def happy_path(s: Scenario, result: PathResult, bake_seconds: int) -> None:
    """Submits the version and follows its canary to 100%, reporting good outcomes."""
    s.t.section(
        f"Happy path: {PLUGIN}@{result.version}, canary 10/25/50/100%,"
        f" {bake_seconds}s bake per phase"
    )
    result.ran = True
    started = time.monotonic()
    result.rollout_id = await s.submit(result.version, bake_seconds)
    timeout = 60.0 + 8 * bake_seconds
    deadline = started + timeout
    last: tuple[str, int] | None = None
    good = 0
    while True:
        rollout = await s.rollout(result.rollout_id)
        state, percent = rollout["state"], int(rollout.get("percent") or 0)
        result.state, result.reason = state, str(rollout.get("reason") or "")
        if (state, percent) != last:
            last = (state, percent)
            so_far = f" ({good} good outcomes reported)" if good else ""
            s.t.step(f"rollout {short(state)} at {percent}%{so_far}")
            if state == IN_PROGRESS:
                # A phase is judged when its bake ends and holds without enough
                # samples, so the evidence goes in before the slower resolve round.
                good += await report(s, result.version, PHASE_OUTCOMES, failures=0)
            if state in (IN_PROGRESS, COMPLETED):
                if percent not in result.percents:
                    result.percents.append(percent)
                await s.resolve_all(result.version, f"at {percent}%")
        if state == COMPLETED:
            break
        if state in (ROLLED_BACK, REFUSED):
            raise DemoError(
                f"the rollout ended {short(state)}: {result.reason or 'no reason given'}"
            )
        if time.monotonic() > deadline:
            raise DemoError(
                f"the rollout did not complete within {timeout:.0f}s"
                f" (it is {short(state)} at {percent}%)"
            )
        if state == IN_PROGRESS:
            good += await report(s, result.version, PHASE_OUTCOMES, failures=0)
        await asyncio.sleep(POLL_SECONDS)
    result.seconds = time.monotonic() - started


async def report(s: Scenario, version: str, count: int, failures: int) -> int:
    """Reports outcomes of the version; returns how many were accepted."""
    reply = await s.report_outcomes(s.outcomes(version, count, failures))
    return int(reply.get("accepted") or 0) if reply is not None else count
