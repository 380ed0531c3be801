"""The demo's breaker path: a version in canary turns slow, and its circuit breaker takes it back.

Every call still succeeds, so the SLO (a ratio of good calls) is not burning:
what trips is the version's circuit breaker, configured to open when half of
its last ten calls are slower than 200 ms. Rollout rolls the canary back on
`slo.breaker.opened`; every user must end up on the happy path's version.
"""

from __future__ import annotations

import time

from portico_cli.errors import DemoError
from portico_cli.local_catalog import PLUGIN
from portico_cli.scenario import (
    HAPPY_VERSION,
    IN_PROGRESS,
    ROLLED_BACK,
    USERS,
    PathResult,
    Scenario,
)

BREAKER_VERSION = "2.5.0"
WINDOW = 10
SLOW_MS = 200
BREAKER = {
    "slidingWindowSize": WINDOW,
    "minimumNumberOfCalls": WINDOW,
    "slowCallRateThreshold": 50,
    "slowCallDurationThreshold": f"{SLOW_MS / 1000:g}s",
}


async def breaker_path(s: Scenario, result: PathResult, bake_seconds: int) -> None:
    """Submits another version, gives it a small breaker, makes it slow, waits for the rollback."""
    s.t.section(
        f"Breaker path: {PLUGIN}@{result.version}, {bake_seconds}s bake so it stays in"
        " canary, then its calls turn slow"
    )
    result.ran = True
    started = time.monotonic()
    result.rollout_id = await s.submit(result.version, bake_seconds)
    rollout = await s.wait_for_state(result.rollout_id, IN_PROGRESS, within=60.0)
    result.percents.append(int(rollout.get("percent") or 0))
    reply = await s.api.call(
        "POST", "/breakers", {"plugin": PLUGIN, "version": result.version, "config": BREAKER}
    )
    breaker = reply.get("breaker") or {}
    s.t.step(
        f"breaker {breaker.get('breakerId', '?')} on {result.version}: opens when half of"
        f" the last {WINDOW} calls take over {SLOW_MS} ms"
    )
    slow = s.outcomes(result.version, WINDOW, 0)
    for outcome in slow["outcomes"]:
        outcome["latencyMs"] = 5 * SLOW_MS
    reply = await s.report_outcomes(slow) or {}
    s.t.step(
        f"{result.version} turns slow: reported {WINDOW} successful calls of {5 * SLOW_MS} ms"
        + ("  (the SLO is violated too)" if reply.get("violated") else "  (the SLO holds)")
    )
    rollout = await s.wait_for_state(result.rollout_id, ROLLED_BACK, within=30.0, known=IN_PROGRESS)
    result.state, result.reason = rollout["state"], str(rollout.get("reason") or "")
    result.seconds = time.monotonic() - started
    if "circuit breaker" not in result.reason:
        raise DemoError(
            f"{result.version} was rolled back, but not by its breaker: {result.reason}"
        )
    answers = await s.resolve_all(result.version, "after the rollback", grows=False)
    wrong = sorted(user for user, version in answers.items() if version != HAPPY_VERSION)
    if wrong:
        raise DemoError(
            f"after the breaker's rollback {len(wrong)} of {len(USERS)} users do not get"
            f" {HAPPY_VERSION}"
        )
    s.t.step(f"every user is back on {HAPPY_VERSION}")
