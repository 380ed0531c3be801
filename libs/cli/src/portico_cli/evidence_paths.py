"""The demo's evidence paths: promotion waits for evidence, the judge fails, an operator steps in.

- held: a phase needs more canary outcomes than it has, so it holds (no data
  is not success) until good outcomes arrive, then the rollout completes.
- judged: the canary is as reliable as the stable version but much slower;
  Kayenta's statistical judgment (Mann-Whitney U, canary against baseline in
  the same window) fails the phase and the rollout rolls back.
- paused: an operator pauses a canary, then promotes it straight to 100%.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from portico_cli.errors import DemoError
from portico_cli.local_catalog import PLUGIN
from portico_cli.scenario import (
    COMPLETED,
    IN_PROGRESS,
    POLL_SECONDS,
    ROLLED_BACK,
    PathResult,
    Scenario,
    short,
)

HELD_VERSION = "2.6.0"
JUDGED_VERSION = "2.7.0"
PAUSED_VERSION = "2.8.0"
HELD_SAMPLES = 30
PAUSED = "ROLLOUT_STATE_PAUSED"
# The judged phase bakes this long while outcomes of both versions arrive, one
# judgment interval a second, so the judge compares about as many intervals.
JUDGED_BAKE_SECONDS = 8
NO_SAMPLES = {"minSamples": 0}


async def held_path(s: Scenario, result: PathResult) -> None:
    """A phase holds for lack of samples, then advances on good outcomes and completes."""
    s.t.section(
        f"Held path: {PLUGIN}@{result.version}, the 10% phase needs {HELD_SAMPLES} canary"
        " outcomes; none are reported at first"
    )
    result.ran = True
    started = time.monotonic()
    plan = [
        {"percent": 10, "bakeSeconds": 1, "criteria": {"minSamples": HELD_SAMPLES}},
        {"percent": 100, "bakeSeconds": 1, "criteria": NO_SAMPLES},
    ]
    result.rollout_id = await s.submit(result.version, 1, plan=plan)
    await s.wait_for_state(result.rollout_id, IN_PROGRESS, within=60.0)
    result.percents.append(10)
    held = await _until(
        lambda: _holding(s, result.rollout_id), within=30.0, what="the phase to hold"
    )
    result.detail = f"held: {held}"
    s.t.step(f"phase at 10% HOLDS: {held} (no data is not success)")
    await s.report_outcomes(s.outcomes(result.version, HELD_SAMPLES + 10, 0))
    s.t.step(f"reported {HELD_SAMPLES + 10} good outcomes of {result.version}")
    rollout = await s.wait_for_state(result.rollout_id, COMPLETED, within=60.0, known=IN_PROGRESS)
    result.percents.append(100)
    result.state, result.reason = rollout["state"], str(rollout.get("reason") or "")
    result.seconds = time.monotonic() - started


async def judged_path(s: Scenario, result: PathResult, baseline: str) -> None:
    """A slow canary: the statistical judgment fails the phase and the rollout rolls back."""
    s.t.section(
        f"Judged path: {PLUGIN}@{result.version} at 50% against {baseline}, judged by"
        f" Mann-Whitney U at 98% confidence after a {JUDGED_BAKE_SECONDS}s bake"
    )
    result.ran = True
    started = time.monotonic()
    judged = {
        "minSamples": 20,
        "judgment": {"confidence": 0.98, "intervalSeconds": 1},
    }
    plan = [
        {"percent": 50, "bakeSeconds": JUDGED_BAKE_SECONDS, "criteria": judged},
        {"percent": 100, "bakeSeconds": 1, "criteria": NO_SAMPLES},
    ]
    result.rollout_id = await s.submit(result.version, JUDGED_BAKE_SECONDS, plan=plan)
    await s.wait_for_state(result.rollout_id, IN_PROGRESS, within=60.0)
    result.percents.append(50)
    s.t.step(
        f"both versions serve: {result.version} answers in 600-900 ms, {baseline} in"
        " 20-60 ms, every call succeeds"
    )
    deadline = time.monotonic() + JUDGED_BAKE_SECONDS + 30.0
    reported = 0
    while True:
        rollout = await s.rollout(result.rollout_id)
        if rollout["state"] != IN_PROGRESS:
            break
        if time.monotonic() > deadline:
            raise DemoError(f"the judge did not decide within {JUDGED_BAKE_SECONDS + 30}s")
        await s.report_outcomes(_timed(s, result.version, 10, 600, 900))
        await s.report_outcomes(_timed(s, baseline, 10, 20, 60))
        reported += 20
        await asyncio.sleep(POLL_SECONDS * 2)
    s.t.step(f"reported {reported} outcomes of the two versions during the bake")
    result.state, result.reason = rollout["state"], str(rollout.get("reason") or "")
    result.seconds = time.monotonic() - started
    s.t.step(f"rollout {short(result.state)}: {result.reason}")
    if result.state != ROLLED_BACK:
        return
    view = await s.rollout_view(result.rollout_id)
    decision = (view.get("decisions") or [{}])[0]
    if decision.get("source") != "judgment":
        raise DemoError(
            f"{result.version} was rolled back, but not by the judge:"
            f" {decision.get('source', '?')}: {'; '.join(decision.get('reasons') or [])}"
        )
    result.detail = "the decision's source: judgment"
    await _everyone_on(s, result.version, baseline)


async def paused_path(s: Scenario, result: PathResult, bake_seconds: int) -> None:
    """An operator pauses the canary at 10%, then promotes it to 100%; it completes."""
    s.t.section(
        f"Paused path: {PLUGIN}@{result.version}, {bake_seconds}s bakes; an operator pauses"
        " it, then promotes it to 100%"
    )
    result.ran = True
    started = time.monotonic()
    plan = [
        {"percent": p, "bakeSeconds": bake_seconds, "criteria": NO_SAMPLES} for p in (10, 25, 50)
    ] + [{"percent": 100, "bakeSeconds": 1, "criteria": NO_SAMPLES}]
    result.rollout_id = await s.submit(result.version, bake_seconds, plan=plan)
    await s.wait_for_state(result.rollout_id, IN_PROGRESS, within=60.0)
    result.percents.append(10)
    base = f"/rollouts/{result.rollout_id}"
    paused = await s.api.call("POST", f"{base}:pause", {"reason": "looking at a dashboard"})
    state = str((paused.get("rollout") or {}).get("state") or "")
    if state != PAUSED:
        raise DemoError(f"POST {base}:pause left the rollout {short(state)}")
    result.detail = "paused at 10%"
    s.t.step("operator paused the rollout at 10%: the canary cohort keeps it, nothing advances")
    await s.resolve_all(result.version, "while paused")
    promoted = await s.api.call(
        "POST", f"{base}:promote", {"full": True, "reason": "dashboard is fine"}
    )
    percent = int((promoted.get("rollout") or {}).get("percent") or 0)
    s.t.step(f"operator promoted it to 100% (now at {percent}%)")
    rollout = await s.wait_for_state(result.rollout_id, COMPLETED, within=30.0, known=IN_PROGRESS)
    result.percents.append(100)
    result.detail = "paused at 10%, promoted to 100%"
    result.state, result.reason = rollout["state"], str(rollout.get("reason") or "")
    result.seconds = time.monotonic() - started
    answers = await s.resolve_all(result.version, "after the promotion")
    if any(version != result.version for version in answers.values()):
        raise DemoError(f"after the promotion not every user gets {result.version}")


async def _holding(s: Scenario, rollout_id: str) -> str:
    """The hold's reason once the phase holds for lack of samples; "" until then."""
    view = await s.rollout_view(rollout_id)
    health = view.get("health") or {}
    decisions = view.get("decisions") or []
    if health.get("status") != "holding" or not decisions:
        return ""
    latest = decisions[0]
    reasons = "; ".join(latest.get("reasons") or [])
    if latest.get("kind") == "DECISION_KIND_HOLD" and "not enough samples" in reasons:
        return reasons
    return ""


async def _until(probe: Any, *, within: float, what: str) -> str:
    deadline = time.monotonic() + within
    while True:
        found = await probe()
        if found:
            return str(found)
        if time.monotonic() > deadline:
            raise DemoError(f"waited {within:.0f}s for {what}")
        await asyncio.sleep(POLL_SECONDS)


def _timed(s: Scenario, version: str, count: int, low: int, high: int) -> dict[str, Any]:
    body = s.outcomes(version, count, 0)
    for outcome in body["outcomes"]:
        outcome["latencyMs"] = s.rng.randint(low, high)
    return body


async def _everyone_on(s: Scenario, version: str, expected: str) -> None:
    answers = await s.resolve_all(version, "after the rollback", grows=False)
    wrong = sorted(user for user, got in answers.items() if got != expected)
    if wrong:
        raise DemoError(f"after the rollback {len(wrong)} users do not get {expected}")
    s.t.step(f"every user is back on {expected}")
