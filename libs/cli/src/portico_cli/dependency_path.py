"""The demo's dependency-chain path: a broken version takes the plugin that needs it back with it.

cost-alerts 1.0.0 is installed (it runs on any cost-insights 2.x); then
cost-insights 2.9.0 and cost-alerts 1.1.0, which needs ^2.9.0, go into canary
side by side. 2.9.0 starts failing: its SLO rolls it back, then rollout's
rollback saga asks compat which installed plugins need 2.9.0 and rolls
cost-alerts 1.1.0 back too, naming the rollout that took it along
(`cause_rollout_id`): the plugin first, then what needs it, the reverse of
the order they depend on each other. Every user ends on 2.8.0 and 1.0.0.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

from portico_cli.errors import DemoError
from portico_cli.events import Seen
from portico_cli.local_catalog import (
    CHAIN_VERSION,
    DEPENDENT_NEEDS,
    DEPENDENT_NEXT,
    DEPENDENT_PLUGIN,
    DEPENDENT_STABLE,
    PLUGIN,
)
from portico_cli.rollback_path import burst
from portico_cli.scenario import COMPLETED, IN_PROGRESS, ROLLED_BACK, PathResult, Scenario

# How long the dependent may take to go back after the plugin it needs (the saga runner's
# pace), and how long its event may take to arrive after the rollout reads ROLLED_BACK.
DEPENDENT_SECONDS = 30.0
EVENT_GRACE_SECONDS = 5.0
INSTALL = [{"percent": 100, "bakeSeconds": 1, "criteria": {"minSamples": 0}}]


async def dependency_path(s: Scenario, result: PathResult, stable: str, bake_seconds: int) -> None:
    """Installs the dependent, puts both new versions in canary, breaks the one it needs."""
    s.t.section(
        f"Dependency path: {DEPENDENT_PLUGIN}@{DEPENDENT_NEXT} needs {PLUGIN}@{CHAIN_VERSION};"
        f" both in canary ({bake_seconds}s bakes), then {CHAIN_VERSION} starts failing"
    )
    result.ran = True
    started = time.monotonic()
    installed = await s.submit(
        DEPENDENT_STABLE,
        1,
        plan=INSTALL,
        plugin=DEPENDENT_PLUGIN,
        dependencies=dict(DEPENDENT_NEEDS[DEPENDENT_STABLE]),
    )
    await s.wait_for_state(installed, COMPLETED, within=60.0)
    s.t.step(f"{DEPENDENT_PLUGIN}@{DEPENDENT_STABLE} installed next to {PLUGIN}@{stable}")
    result.rollout_id = await s.submit(CHAIN_VERSION, bake_seconds)
    await s.wait_for_state(result.rollout_id, IN_PROGRESS, within=60.0)
    dependent = await s.submit(
        DEPENDENT_NEXT,
        bake_seconds,
        plugin=DEPENDENT_PLUGIN,
        dependencies=dict(DEPENDENT_NEEDS[DEPENDENT_NEXT]),
    )
    rollout = await s.wait_for_state(dependent, IN_PROGRESS, within=60.0)
    result.percents.append(int(rollout.get("percent") or 0))
    if not await burst(s, CHAIN_VERSION):
        s.t.step("the SLO service reported no violation; waiting for the rollouts anyway")
    await s.wait_for_state(result.rollout_id, ROLLED_BACK, within=30.0, known=IN_PROGRESS)
    rollout = await s.wait_for_state(
        dependent, ROLLED_BACK, within=DEPENDENT_SECONDS, known=IN_PROGRESS
    )
    result.state, result.reason = rollout["state"], str(rollout.get("reason") or "")
    result.seconds = time.monotonic() - started
    first = await _rollback_decision(s, result.rollout_id)
    then = await _rollback_decision(s, dependent)
    cause = _cause_of(then)
    if then.get("source") != "dependency" or cause != result.rollout_id:
        raise DemoError(
            f"{DEPENDENT_PLUGIN}@{DEPENDENT_NEXT} was rolled back, but not because"
            f" {PLUGIN}@{CHAIN_VERSION} was: {then.get('source', '?')}:"
            f" {'; '.join(then.get('reasons') or [])}"
        )
    if _at(then) < _at(first):
        raise DemoError(
            f"{DEPENDENT_PLUGIN}@{DEPENDENT_NEXT} was rolled back before {PLUGIN}@{CHAIN_VERSION}"
        )
    await _events_in_order(s, result.rollout_id, dependent)
    result.detail = (
        f"{CHAIN_VERSION} first (its SLO), then {DEPENDENT_PLUGIN}@{DEPENDENT_NEXT}"
        f" (cause_rollout_id {result.rollout_id})"
    )
    s.t.step(
        f"rolled back in reverse dependency order: {PLUGIN}@{CHAIN_VERSION} by its SLO, then"
        f" {DEPENDENT_PLUGIN}@{DEPENDENT_NEXT}, which needs it (cause_rollout_id"
        f" {result.rollout_id})"
    )
    for plugin, version, expected in (
        (PLUGIN, CHAIN_VERSION, stable),
        (DEPENDENT_PLUGIN, DEPENDENT_NEXT, DEPENDENT_STABLE),
    ):
        answers = await s.resolve_all(version, "after the rollback", grows=False, plugin=plugin)
        wrong = sorted(user for user, got in answers.items() if got != expected)
        if wrong:
            raise DemoError(f"after the rollback {len(wrong)} users do not get {plugin}@{expected}")
    s.t.step(f"every user is back on {PLUGIN}@{stable} and {DEPENDENT_PLUGIN}@{DEPENDENT_STABLE}")


async def _rollback_decision(s: Scenario, rollout_id: str) -> dict[str, Any]:
    """The rollout's latest decision that put it back to 0%."""
    view = await s.rollout_view(rollout_id)
    for decision in view.get("decisions") or []:
        if decision.get("kind") in ("DECISION_KIND_ROLLBACK", "DECISION_KIND_FAIL"):
            return dict(decision)
    raise DemoError(f"rollout {rollout_id} is rolled back, yet shows no rollback decision")


def _cause_of(decision: dict[str, Any]) -> str:
    """The rollout a dependency rollback names as its cause, from the decision's evidence."""
    try:
        evidence = json.loads(decision.get("evidenceJson") or "{}")
    except ValueError:
        return ""
    return str((evidence.get("dependency") or {}).get("rollout_id") or "")


def _at(decision: dict[str, Any]) -> datetime:
    at = str(decision.get("at") or "")
    try:
        return datetime.fromisoformat(at)
    except ValueError:
        raise DemoError(f"a decision carries no readable time: {at!r}") from None


async def _events_in_order(s: Scenario, cause: str, dependent: str) -> None:
    """With the event feed: both rollout.rolled_back events, the dependent's second,
    naming the cause."""
    if not s.feed.connected:
        return
    found = await s.feed.wait_for("rollout.rolled_back", EVENT_GRACE_SECONDS, rollout_id=dependent)
    first = s.feed.find("rollout.rolled_back", rollout_id=cause)
    if found is None or first is None:
        raise DemoError("the two rollout.rolled_back events did not both arrive")
    if found.payload.cause_rollout_id != cause:
        raise DemoError(
            f"{DEPENDENT_PLUGIN}'s rollout.rolled_back names cause_rollout_id"
            f" {found.payload.cause_rollout_id or 'none'}, not {cause}"
        )
    if _index(s, found) < _index(s, first):
        raise DemoError(f"{DEPENDENT_PLUGIN}'s rollout.rolled_back came before {PLUGIN}'s")


def _index(s: Scenario, seen: Seen) -> int:
    return next(i for i, e in enumerate(s.feed.events) if e is seen)
