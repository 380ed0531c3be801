"""`portico demo`: the paths against the running suite, then a summary.

Exit 0 only if the first version reached 100% (COMPLETED), the second was
ROLLED_BACK by its SLO and paged the demo's local PagerDuty receiver, the
third was ROLLED_BACK by its circuit breaker (every user back on the first
each time), the fourth held for lack of samples and then completed on good
outcomes, the fifth was ROLLED_BACK by the statistical judgment, and the
sixth was paused and then promoted to 100%, and the seventh's failure took the
plugin that needs it (cost-alerts) back with it, after it; 1 with the reason
otherwise.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import ssl
import sys
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path

import httpx

from portico_cli import credentials, endpoints, nats_identities, tls
from portico_cli.api import Gateway, Tokens
from portico_cli.breaker_path import BREAKER_VERSION, breaker_path
from portico_cli.dependency_path import dependency_path
from portico_cli.endpoints import Endpoints, redact_url
from portico_cli.errors import CliError, DemoError, NotRunningError
from portico_cli.events import EventFeed, Seen, describe
from portico_cli.evidence_paths import (
    HELD_VERSION,
    JUDGED_VERSION,
    PAUSED_VERSION,
    held_path,
    judged_path,
    paused_path,
)
from portico_cli.happy_path import happy_path
from portico_cli.infra import NATS_URL_ENV
from portico_cli.leftovers import alive
from portico_cli.local_catalog import CHAIN_VERSION, DEPENDENT_NEXT, DEPENDENT_PLUGIN, PLUGIN
from portico_cli.paging import OnCall, Page
from portico_cli.paths import Home
from portico_cli.rollback_path import rollback_path
from portico_cli.scenario import (
    COMPLETED,
    HAPPY_VERSION,
    ROLLBACK_VERSION,
    ROLLED_BACK,
    PathResult,
    Scenario,
    short,
)
from portico_cli.table import format_table
from portico_cli.timeline import Timeline
from portico_common.timestamps import timestamp_field

# How long to wait, after the rollout reads ROLLED_BACK, for its event to arrive.
EVENT_GRACE_SECONDS = 5.0
# How long a call waits out an outage (a database or a service restarting) before the
# demo gives up on it.
RETRY_SECONDS = 120.0
# How long the SLO's page may take to reach the local receiver after the rollback.
PAGE_GRACE_SECONDS = 15.0


@dataclass(frozen=True)
class Reaction:
    """Violation to rollback, from the events themselves."""

    server_ms: float | None  # rolled_back ce-time - violationDetectedAt (server clocks)
    arrival_ms: float | None  # gap between the two events' arrival at this subscription


def run(home_dir: Path, *, bake_seconds: int = 1, rollback_bake_seconds: int = 30) -> int:
    if bake_seconds < 0:
        raise CliError("--bake-seconds must be 0 (the server's default) or more")
    if rollback_bake_seconds < 5:
        raise CliError("--rollback-bake-seconds must be at least 5, so the canary is still there")
    home = Home(home_dir)
    found = endpoints.read(home.endpoints)
    if found.pid and not alive(found.pid):
        raise NotRunningError(
            f"Portico is not running ({home.endpoints} is stale). Start it with `portico up`."
        )
    secret = credentials.admin_client_secret(home.secrets)
    # endpoints.json holds no credentials; a NATS URL with some comes from the environment.
    nats_url = os.environ.get(NATS_URL_ENV) or found.nats
    # The embedded server admits only the suite's users: watch as the observer.
    seed = nats_identities.observer_seed(home.nats_identities)
    # The suite's nats-server speaks TLS with client certificates: the CLI shows its own.
    nats_tls = tls.cli_nats(tls.cli_ca(home)) if found.tls else None
    try:
        return asyncio.run(
            run_demo(
                found,
                secret,
                nats_url,
                nats_seed=seed,
                nats_tls=nats_tls,
                bake_seconds=bake_seconds,
                rollback_bake_seconds=rollback_bake_seconds,
            )
        )
    except KeyboardInterrupt:
        print("portico demo: interrupted", file=sys.stderr)
        return 130


async def run_demo(
    found: Endpoints,
    secret: str,
    nats_url: str,
    *,
    bake_seconds: int,
    rollback_bake_seconds: int,
    nats_seed: str = "",
    nats_tls: ssl.SSLContext | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    page_grace_seconds: float = PAGE_GRACE_SECONDS,
    retry_seconds: float = RETRY_SECONDS,
) -> int:
    """The three paths and the summary; the exit code. `transport` and a shorter
    `page_grace_seconds` are for tests."""
    timeline = Timeline()
    tenant = f"demo-{secrets.token_hex(3)}"
    feed = EventFeed(
        tenant,
        on_event=lambda seen: timeline.event(seen.type, describe(seen.payload), seen.arrived),
        on_problem=lambda text: timeline.step(f"warning: {text}"),
    )
    gateway = Gateway(
        found.gateway,
        transport=transport,
        retry_for_seconds=retry_seconds,
        on_wait=timeline.step,
    )
    happy = PathResult("happy path", HAPPY_VERSION, COMPLETED)
    rollback = PathResult("rollback path", ROLLBACK_VERSION, ROLLED_BACK)
    breaker = PathResult("breaker path", BREAKER_VERSION, ROLLED_BACK)
    held = PathResult("held path", HELD_VERSION, COMPLETED)
    judged = PathResult("judged path", JUDGED_VERSION, ROLLED_BACK)
    paused = PathResult("paused path", PAUSED_VERSION, COMPLETED)
    chain = PathResult(
        "dependency path",
        CHAIN_VERSION,
        ROLLED_BACK,
        subject=f"{PLUGIN}@{CHAIN_VERSION} <- {DEPENDENT_PLUGIN}@{DEPENDENT_NEXT}",
    )
    oncall = OnCall()
    page: Page | None = None
    setup_error = ""
    timeline.line(f"Portico demo: gateway {found.gateway}, tenant {tenant}")
    timeline.line("(+ms since the start; lines with * are domain events as they arrive from NATS)")
    try:
        await _subscribe(feed, nats_url, nats_seed, timeline, nats_tls)
        scenario = Scenario(
            gateway=gateway,
            tokens=Tokens(gateway, found.admin_client_id, secret),
            tenant=tenant,
            timeline=timeline,
            feed=feed,
        )
        try:
            await scenario.prepare()
            await oncall.prepare(scenario.api, timeline)
        except DemoError as exc:
            setup_error = str(exc)
        if not setup_error:
            await _walk(happy_path(scenario, happy, bake_seconds), happy, timeline)
        if happy.ok:
            await _walk(
                rollback_path(scenario, rollback, rollback_bake_seconds), rollback, timeline
            )
        reaction = await _reaction(feed, rollback) if rollback.ok else Reaction(None, None)
        if rollback.ok:
            slo_id = scenario.slo_ids.get(rollback.version, "")
            page = await oncall.wait_for_page(slo_id, page_grace_seconds) if slo_id else None
            if page is not None:
                timeline.step(f"paged: PagerDuty trigger {page.dedup_key} ({page.summary})")
            await _walk(breaker_path(scenario, breaker, rollback_bake_seconds), breaker, timeline)
        if breaker.ok:
            await _walk(held_path(scenario, held), held, timeline)
        if held.ok:
            await _walk(judged_path(scenario, judged, held.version), judged, timeline)
        if judged.ok:
            await _walk(paused_path(scenario, paused, rollback_bake_seconds), paused, timeline)
        if paused.ok:
            await _walk(
                dependency_path(scenario, chain, paused.version, rollback_bake_seconds),
                chain,
                timeline,
            )
        return _summary(
            timeline=timeline,
            tenant=tenant,
            paths=(happy, rollback, breaker),
            evidence=(held, judged, paused, chain),
            reaction=reaction,
            page=page,
            sticky_breaks=scenario.sticky_breaks,
            feed=feed,
            setup_error=setup_error,
        )
    finally:
        oncall.stop()
        await feed.close()
        await gateway.close()


async def _subscribe(
    feed: EventFeed, url: str, seed: str, timeline: Timeline, tls: ssl.SSLContext | None = None
) -> None:
    if not url:
        timeline.step("warning: no NATS URL; continuing without the event timeline")
        return
    try:
        await feed.connect(url, seed, tls)
    except Exception as exc:  # noqa: BLE001 - any failure here only costs the event lines
        timeline.step(
            f"warning: cannot subscribe to events at {redact_url(url)}"
            f" ({exc or type(exc).__name__}); continuing without them"
        )
        return
    timeline.step(f"subscribed to portico.> at {redact_url(url)}, keeping tenant {feed.tenant}")


async def _walk(path: Awaitable[None], result: PathResult, timeline: Timeline) -> None:
    try:
        await path
    except DemoError as exc:
        result.error = str(exc)
        timeline.step(f"FAILED: {exc}")


async def _reaction(feed: EventFeed, rollback: PathResult) -> Reaction:
    if not feed.connected:
        return Reaction(None, None)
    rolled_back = await feed.wait_for(
        "rollout.rolled_back", EVENT_GRACE_SECONDS, rollout_id=rollback.rollout_id
    )
    violated = feed.find("slo.violated", plugin=PLUGIN, version=rollback.version)
    return reaction_of(violated, rolled_back)


def reaction_of(violated: Seen | None, rolled_back: Seen | None) -> Reaction:
    """Reaction times measured from the two events."""
    server_ms = arrival_ms = None
    if rolled_back is not None:
        detected = timestamp_field(rolled_back.payload, "violation_detected_at")
        if detected is not None:
            server_ms = (rolled_back.envelope.time - detected).total_seconds() * 1000
        if violated is not None:
            arrival_ms = (rolled_back.arrived - violated.arrived) * 1000
    return Reaction(server_ms, arrival_ms)


def _summary(
    *,
    timeline: Timeline,
    tenant: str,
    paths: tuple[PathResult, PathResult, PathResult],
    evidence: tuple[PathResult, PathResult, PathResult, PathResult],
    reaction: Reaction,
    page: Page | None,
    sticky_breaks: list[str],
    feed: EventFeed,
    setup_error: str,
) -> int:
    happy, rollback, breaker = paths
    timeline.section("Summary")
    rows = [_path_row(happy), _path_row(rollback)]
    if rollback.ok:
        rows.append(
            [
                "page",
                "SLO violation -> local PagerDuty receiver",
                f"delivered: trigger {page.dedup_key} ({page.tier})"
                if page is not None
                else "NOT delivered",
            ]
        )
    rows.append(_path_row(breaker))
    rows += [_evidence_row(path) for path in evidence]
    if rollback.ok:
        server = (
            f"{reaction.server_ms:.1f} ms" if reaction.server_ms is not None else "n/a (no event)"
        )
        arrival = f"{reaction.arrival_ms:.1f} ms" if reaction.arrival_ms is not None else "n/a"
        rows.append(
            ["reaction", "slo.violated -> rollout.rolled_back", f"{server} (server clocks)"]
        )
        rows.append(["", "the same two events arriving here", arrival])
    rows.append(
        [
            "sticky",
            "users keep a canary version as it grows",
            "yes" if not sticky_breaks else f"NO: {'; '.join(sticky_breaks)}",
        ]
    )
    rows.append(["events", f"received for tenant {tenant}", str(len(feed.events))])
    timeline.line(format_table(rows))
    reasons = [setup_error] if setup_error else []
    reasons += [_why(path) for path in (*paths, *evidence) if not path.ok]
    if rollback.ok and page is None:
        reasons.append("the SLO violation paged nobody")
    if sticky_breaks:
        reasons.append("a user lost the canary version while the canary grew")
    timeline.line("")
    if reasons:
        timeline.line("FAILED: " + "; ".join(reasons))
        return 1
    held, judged, paused, chain = evidence
    timeline.line(
        f"OK: {PLUGIN}@{happy.version} reached 100%, {rollback.version} was rolled back"
        f" by an SLO violation that paged on-call, and {breaker.version} by its circuit breaker;"
        f" {held.version} held for lack of samples then completed, {judged.version} was"
        f" rolled back by the statistical judgment, {paused.version} was paused then promoted;"
        f" {chain.version}'s rollback took {DEPENDENT_PLUGIN}@{DEPENDENT_NEXT}, which needs it,"
        " back after it"
    )
    return 0


def _evidence_row(path: PathResult) -> list[str]:
    """An evidence path's row: its end state and what it showed on the way."""
    row = _path_row(path)
    if path.ok and path.detail:
        row[2] = f"{row[2]}; {path.detail}"
    return row


def _path_row(path: PathResult) -> list[str]:
    what = path.subject or f"{PLUGIN}@{path.version}"
    if not path.ran:
        return [path.title, what, "not run"]
    state = short(path.state) if path.state else "?"
    if path.error:
        return [path.title, what, f"{state}: {path.error}"]
    steps = " -> ".join(f"{p}%" for p in path.percents)
    if path.expected == ROLLED_BACK:
        return [path.title, what, f"{state} after {steps} in {path.seconds:.1f}s ({path.reason})"]
    return [path.title, what, f"{state}: {steps} in {path.seconds:.1f}s"]


def _why(path: PathResult) -> str:
    if not path.ran:
        return f"the {path.title} did not run"
    if path.error:
        return f"the {path.title} failed: {path.error}"
    return f"the {path.title} ended {short(path.state)}, expected {short(path.expected)}"
