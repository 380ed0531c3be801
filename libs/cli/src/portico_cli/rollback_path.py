"""The demo's rollback path: a version in canary fails, and its SLO takes it back.

The next version starts its canary with a long bake, a burst of failing
outcomes trips the SLO's burn-rate rule, and the rollout service rolls it back
on the `slo.violated` event; every user must end up on the happy path's version.
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

BURST_BATCHES, BURST_BATCH_SIZE = 5, 20


async def rollback_path(s: Scenario, result: PathResult, bake_seconds: int) -> None:
    """Submits the next version, makes it fail in canary, and waits for the rollback."""
    s.t.section(
        f"Rollback path: {PLUGIN}@{result.version}, {bake_seconds}s bake so it stays in"
        " canary, then it starts failing"
    )
    result.ran = True
    started = time.monotonic()
    result.rollout_id = await s.submit(result.version, bake_seconds)
    rollout = await s.wait_for_state(result.rollout_id, IN_PROGRESS, within=60.0)
    percent = int(rollout.get("percent") or 0)
    result.percents.append(percent)
    await s.resolve_all(result.version, f"at {percent}%")
    violated = await burst(s, result.version)
    if not violated:
        s.t.step("the SLO service reported no violation; waiting for the rollout anyway")
    rollout = await s.wait_for_state(result.rollout_id, ROLLED_BACK, within=30.0, known=IN_PROGRESS)
    result.state, result.reason = rollout["state"], str(rollout.get("reason") or "")
    result.seconds = time.monotonic() - started
    answers = await s.resolve_all(result.version, "after the rollback", grows=False)
    wrong = sorted(user for user, version in answers.items() if version != HAPPY_VERSION)
    if wrong:
        got = ", ".join(f"{user}={answers[user] or 'nothing'}" for user in wrong[:5])
        raise DemoError(
            f"after the rollback {len(wrong)} of {len(USERS)} users do not get"
            f" {HAPPY_VERSION}: {got}"
        )
    s.t.step(f"every user is back on {HAPPY_VERSION}")


async def burst(s: Scenario, version: str) -> bool:
    """Failing outcomes in batches until the SLO service says it is violated."""
    s.t.step(f"{version} starts failing: reporting outcomes, half of them errors")
    for _ in range(BURST_BATCHES):
        reply = await s.report_outcomes(
            s.outcomes(version, BURST_BATCH_SIZE, BURST_BATCH_SIZE // 2)
        )
        if reply is None:  # counted, answer lost: the next batch's answer tells
            continue
        violated = bool(reply.get("violated"))
        s.t.step(
            f"reported {BURST_BATCH_SIZE} outcomes ({BURST_BATCH_SIZE // 2} failed): burn rate"
            f" {float(reply.get('shortWindowBurnRate') or 0):.1f}x short,"
            f" {float(reply.get('longWindowBurnRate') or 0):.1f}x long"
            + ("  -> SLO violated" if violated else "")
        )
        if violated:
            return True
    return False
