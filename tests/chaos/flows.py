"""The four flows the chaos suite breaks in their middle, driven through the gateway.

Each flow takes a tenant of its own from a fresh start to its end, calling
`disrupt()` at its middle (where a process is killed, or a server), and
returns what it expects: the exact number of each event type its tenant's
books must show, and the rows it must have left in the database, each
counted once. Calls go through `portico_cli.api.Gateway`, which retries
what the suite could not serve for now (a 503 with Retry-After, the gateway
unreachable) under the same idempotency key, as the CLI and the demo do.

- canary: a signed, compatible version, 10 -> 50 -> 100%; disrupted at 50%.
- rollback: a stable version, then a canary at 50% that fails its SLO and is
  stepped down (50 -> 10 -> 0%, a step every two seconds); disrupted while
  the saga steps it down.
- install: a policy-gated InstallSecure approved by an approver; disrupted
  right after the approval, while plugin.install.approved makes its way to
  the rollout that takes the version to 100%.
- advisories: an import of OSV documents; disrupted while the request runs.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from portico_cli import credentials
from portico_cli.api import ApiError, Gateway, TenantApi, Tokens
from portico_cli.artifact import b64, build
from portico_cli.events import EventFeed
from portico_cli.scenario import ENGINES, PEER_DEPENDENCIES, PLUGIN, Scenario
from portico_cli.timeline import Timeline
from portico_embedded.testing.ledger import Books, Ledger, Mark

from .stack import Suite

Disrupt = Callable[[], Awaitable[None]]

IN_PROGRESS = "ROLLOUT_STATE_IN_PROGRESS"
COMPLETED = "ROLLOUT_STATE_COMPLETED"
ROLLED_BACK = "ROLLOUT_STATE_ROLLED_BACK"
ROLLING_BACK = "ROLLOUT_STATE_ROLLING_BACK"
ENDED = {COMPLETED, ROLLED_BACK, "ROLLOUT_STATE_REFUSED"}
# How long a flow waits for a state after its disruption (a restart under load included).
WITHIN = 120.0
NO_SAMPLES = {"minSamples": 0}
APPROVER_ROLE = "security-approver"
# Every tenant's setup (created, a token, a publisher key, a host profile) says one thing.
SETUP_EVENTS = Counter({"tenant.created": 1})


def took_effect(exc: ApiError) -> bool:
    """The retry of a request a kill cut off after its effect committed: refused as applied."""
    return exc.status == 409 and "took effect" in exc.detail


def phase(percent: int, bake_seconds: int) -> dict[str, Any]:
    return {"percent": percent, "bakeSeconds": bake_seconds, "criteria": NO_SAMPLES}


@dataclass(frozen=True)
class Count:
    """Rows an effect leaves, counted as the administrator: `sql` with one argument."""

    sql: str
    arg: str
    rows: int


@dataclass
class Expected:
    """What a flow must have left behind, once and only once."""

    flow: str
    events: Counter[str]
    # Rollout id -> the state it must end in.
    rollouts: dict[str, str] = field(default_factory=dict)
    # What each counted effect must come to.
    rows: dict[str, Count] = field(default_factory=dict)
    # The rollout decisions stored, by kind (each one published once besides).
    decisions: Counter[str] = field(default_factory=Counter)
    # Holds (a phase judged on too few outcomes) depend on when outcomes arrive: a
    # flow that reports outcomes may see any number of them.
    holds_allowed: bool = False
    # Where the disruption landed, when the flow can tell.
    note: str = ""


class Portal:
    """One tenant's side of the suite: its gateway, its tokens, its demo scenario."""

    def __init__(self, suite: Suite, tenant: str) -> None:
        found = suite.endpoints()
        # Waits out a restart (a 503 with Retry-After, or the gateway away) for this long.
        self.gateway = Gateway(found.gateway, timeout=30, retry_for_seconds=WITHIN)
        secret = credentials.admin_client_secret(suite.home.secrets)
        self.tokens = Tokens(self.gateway, found.admin_client_id, secret)
        self.tenant = tenant
        self.scenario = Scenario(
            gateway=self.gateway,
            tokens=self.tokens,
            tenant=tenant,
            timeline=Timeline(io.StringIO()),
            feed=EventFeed(tenant, on_event=lambda _: None, on_problem=lambda _: None),
        )
        self.api: TenantApi = self.scenario.api

    async def close(self) -> None:
        await self.gateway.close()

    async def submit(self, version: str, plan: list[dict[str, Any]], **extra: Any) -> str:
        """Asks for the version's rollout, then has it verified and checked (as the demo)."""
        artifact = build(
            PLUGIN, version, self.scenario.key, engines=ENGINES, peer_dependencies=PEER_DEPENDENCIES
        )
        reply = await self.api.call(
            "POST", "/rollouts", {"plugin": PLUGIN, "version": version, "plan": plan, **extra}
        )
        await self.scenario.verify(artifact)
        await self.scenario.check_compat(artifact)
        return str(reply["rollout"]["rolloutId"])

    async def report(self, outcomes: dict[str, Any]) -> dict[str, Any]:
        """Reports outcomes to slo; {} when a kill cut off the answer of a report that counted."""
        try:
            return await self.api.call("POST", "/outcomes", outcomes)
        except ApiError as exc:
            if took_effect(exc):
                return {}
            raise

    async def rollout(self, rollout_id: str) -> dict[str, Any]:
        reply = await self.api.call("GET", f"/rollouts/{rollout_id}")
        rollout: dict[str, Any] = reply["rollout"]
        return rollout

    async def until(
        self,
        rollout_id: str,
        state: str,
        *,
        percent: int | None = None,
        within: float = WITHIN,
        report: str = "",
    ) -> dict[str, Any]:
        """Polls until the rollout is in `state` (at `percent`); fails if it ends otherwise.

        With `report` (a version), good outcomes of it are reported on each poll:
        a phase with the default criteria needs samples to be judged.
        """
        deadline = time.monotonic() + within
        while True:
            rollout = await self.rollout(rollout_id)
            now = rollout["state"], int(rollout.get("percent") or 0)
            if now[0] == state and percent in (None, now[1]):
                return rollout
            if now[0] in ENDED:
                raise AssertionError(f"rollout {rollout_id} ended {now}, not {state}: {rollout}")
            if time.monotonic() > deadline:
                raise AssertionError(f"rollout {rollout_id} is {now}, not {state} after {within}s")
            if report and now[0] == IN_PROGRESS:
                await self.report(self.scenario.outcomes(report, 30, 0))
            await asyncio.sleep(0.1)


async def prepared(suite: Suite, tenant: str) -> Portal:
    """A portal on a new tenant, set up as the demo sets its tenant up."""
    portal = Portal(suite, tenant)
    await portal.scenario.prepare()
    return portal


# ---- the flows --------------------------------------------------------------


def _tenant_rows(table: str, tenant: str, count: int) -> Count:
    return Count(f"SELECT count(*) FROM {table} WHERE tenant_id = $1", tenant, count)  # noqa: S608 - our own table names


def _reservations(tenant: str, *, rollouts: int) -> dict[str, Count]:
    """A quota reservation per rollout, none left held (each settled by its outcome's event)."""
    return {
        "rollout reservations": Count(
            "SELECT count(*) FROM tenancy.tenant_reservations"
            " WHERE tenant_id = $1 AND kind = 'rollout'",
            tenant,
            rollouts,
        ),
        "held reservations": Count(
            "SELECT count(*) FROM tenancy.tenant_reservations"
            " WHERE tenant_id = $1 AND state = 'held'",
            tenant,
            0,
        ),
    }


async def canary(portal: Portal, disrupt: Disrupt, admin: asyncpg.Connection) -> Expected:
    """10 -> 50 -> 100%; disrupted while the 50% phase bakes."""
    t = portal.tenant
    rid = await portal.submit("2.3.0", [phase(10, 1), phase(50, 2), phase(100, 1)])
    await portal.until(rid, IN_PROGRESS, percent=50)
    await disrupt()
    await portal.until(rid, COMPLETED)
    return Expected(
        "canary",
        SETUP_EVENTS
        + Counter(
            {
                "plugin.artifact.verified": 1,
                "plugin.compat.checked": 1,
                "rollout.requested": 1,
                "rollout.started": 1,
                "rollout.phase.advanced": 2,
                "rollout.completed": 1,
                "tenant.usage.updated": 1,
            }
        ),
        {rid: COMPLETED},
        {
            "rollouts": _tenant_rows("rollout.rollouts", t, 1),
            "verifications": _tenant_rows("security.verifications", t, 1),
            "compat checks": _tenant_rows("compat.compat_checks", t, 1),
            "version SLOs": _tenant_rows("slo.slos", t, 1),
            **_reservations(t, rollouts=1),
        },
        decisions=Counter({"advance": 3}),
    )


async def rollback(
    portal: Portal, disrupt: Disrupt, admin: asyncpg.Connection, *, canary_first: bool = False
) -> Expected:
    """A canary at 50% fails its SLO and is stepped back down; disrupted mid-saga.

    With `canary_first` the stable version gets there by a canary of its own
    (10 -> 50 -> 100%), and the disruption comes at its 50% instead.
    """
    t = portal.tenant
    if canary_first:
        stable = await portal.submit("2.3.0", [phase(10, 1), phase(50, 2), phase(100, 1)])
        await portal.until(stable, IN_PROGRESS, percent=50)
        await disrupt()
    else:
        stable = await portal.submit("2.3.0", [phase(100, 1)])
    await portal.until(stable, COMPLETED)
    rid = await portal.submit(
        "2.4.0", [phase(10, 1), phase(50, 3600), phase(100, 1)], rollbackStepSeconds=2
    )
    await portal.until(rid, IN_PROGRESS, percent=50)
    violated = False
    for _ in range(10):
        reply = await portal.report(portal.scenario.outcomes("2.4.0", 20, 10))
        if reply.get("violated"):
            violated = True
            break
    assert violated, "the SLO was not violated by half the outcomes failing"
    if not canary_first:
        await portal.until(rid, ROLLING_BACK)
        await disrupt()
    await portal.until(rid, ROLLED_BACK)
    stable_steps = 2 if canary_first else 0
    return Expected(
        "rollback",
        SETUP_EVENTS
        + Counter(
            {
                "plugin.artifact.verified": 2,
                "plugin.compat.checked": 2,
                "rollout.requested": 2,
                "rollout.started": 2,
                "rollout.completed": 1,
                "rollout.phase.advanced": 1 + stable_steps,
                "rollout.rolled_back": 1,
                "slo.violated": 1,
                "tenant.usage.updated": 1,
            }
        ),
        {stable: COMPLETED, rid: ROLLED_BACK},
        {
            "rollouts": _tenant_rows("rollout.rollouts", t, 2),
            "violations": _tenant_rows("slo.slo_violations", t, 1),
            "saga steps": _tenant_rows("rollout.rollback_steps", t, 2),
            "alerts": _tenant_rows("slo.alerts", t, 1),
            **_reservations(t, rollouts=2),
        },
        # The stable version's promotions and the canary's first; two steps down.
        decisions=Counter({"advance": 2 + stable_steps, "rollback": 2}),
    )


async def install(portal: Portal, disrupt: Disrupt, admin: asyncpg.Connection) -> Expected:
    """A gated InstallSecure approved by one approver; disrupted right after the approval."""
    t = portal.tenant
    await portal.api.call(
        "PUT",
        "/install-policy",
        {
            "actor": "platform-admin",
            "reason": "a reviewer for every plugin",
            "policy": {
                "approvalBelowScore": 100,
                "blockedSeverities": ["CRITICAL"],
                "maxArtifactBytes": 1 << 20,
                "approval": {"required": 1, "roles": [APPROVER_ROLE], "timeoutSeconds": 3600},
            },
        },
    )
    approver_id = f"chaos-approver-{t}"
    approver = await _approver(portal, approver_id)
    artifact = build(
        PLUGIN, "3.0.0", portal.scenario.key, engines=ENGINES, peer_dependencies=PEER_DEPENDENCIES
    )
    reply = await portal.api.call(
        "POST",
        "/installs",
        {
            "plugin": PLUGIN,
            "version": "3.0.0",
            "tarball": b64(artifact.tarball),
            "integrity": artifact.integrity,
            "signature": b64(artifact.signature),
            "keyId": artifact.key_id,
            "requestedBy": "dev-bob",
            "rolloutPhases": [50, 100],
            "rolloutBakeSeconds": 1,
        },
    )
    request = reply["request"]
    assert request["status"] == "INSTALL_STATUS_PENDING_APPROVAL", request
    await portal.scenario.check_compat(artifact)
    await approver.call(
        "POST", f"/installs/{request['requestId']}:approve", {"role": APPROVER_ROLE}
    )
    await disrupt()
    rid = await _rollout_of(portal)
    await portal.until(rid, COMPLETED, report="3.0.0")
    return Expected(
        "install",
        SETUP_EVENTS
        + Counter(
            {
                "plugin.artifact.verified": 1,
                "plugin.compat.checked": 1,
                "plugin.install.requested": 1,
                "plugin.install.approval_required": 1,
                "plugin.install.approval_recorded": 1,
                "plugin.install.approved": 1,
                "rollout.requested": 1,
                "rollout.started": 1,
                "rollout.phase.advanced": 1,
                "rollout.completed": 1,
                "tenant.usage.updated": 1,
            }
        ),
        {rid: COMPLETED},
        {
            "rollouts": _tenant_rows("rollout.rollouts", t, 1),
            "install requests": _tenant_rows("security.install_requests", t, 1),
            **_reservations(t, rollouts=1),
            # policy set, requested, approval required, approved by one, approved.
            "audit records": _tenant_rows("security.audit_records", t, 5),
            "approver clients": Count(
                "SELECT count(*) FROM auth.clients WHERE client_id = $1", approver_id, 1
            ),
        },
        decisions=Counter({"advance": 2}),
        holds_allowed=True,
    )


async def _approver(portal: Portal, client_id: str) -> TenantApi:
    """A client of the tenant holding the approver role, registered by the admin."""
    secret = f"{client_id}-secret-0123456789"
    await portal.gateway.call(
        "POST",
        "/v1/auth/clients",
        body={
            "clientId": client_id,
            "clientSecret": secret,
            "tenants": [portal.tenant],
            "scopes": ["installs.read", "installs.approve"],
            "roles": [APPROVER_ROLE],
        },
        token=await portal.tokens.get("*"),
    )
    return TenantApi(portal.gateway, Tokens(portal.gateway, client_id, secret), portal.tenant)


async def _rollout_of(portal: Portal, within: float = WITHIN) -> str:
    """The rollout the approval started (its id, once rollout has made it)."""
    deadline = time.monotonic() + within
    while True:
        reply = await portal.api.call(
            "POST", "/plugins:resolve", {"userId": "user-01", "plugin": PLUGIN}
        )
        if reply.get("rolloutId"):
            return str(reply["rolloutId"])
        assert time.monotonic() < deadline, "the approval started no rollout"
        await asyncio.sleep(0.2)


ADVISORIES = 1000


def osv(advisory_id: str, package: str) -> str:
    return json.dumps(
        {
            "id": advisory_id,
            "modified": "2026-01-01T00:00:00Z",
            "affected": [
                {
                    "package": {"ecosystem": "npm", "name": package},
                    "ranges": [
                        {"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "9.9.9"}]}
                    ],
                }
            ],
        }
    )


async def advisories(portal: Portal, disrupt: Disrupt, admin: asyncpg.Connection) -> Expected:
    """An import of OSV documents (platform data); disrupted while the request runs."""
    run = uuid.uuid4().hex[:10]
    documents = [
        osv(f"GHSA-chaos-{run}-{i:04d}", f"@chaos-{run}/pkg-{i}") for i in range(ADVISORIES)
    ]
    token = await portal.tokens.get("*")
    imported = asyncio.create_task(
        portal.gateway.call(
            "POST", "/v1/advisories:import", body={"documents": documents}, token=token
        )
    )
    # Security is writing the batch: its transaction is open, nothing committed yet.
    mid_transaction = await _writing(admin, "portico_security", "advisor", within=10.0)
    await disrupt()
    where = "with the import's transaction open" if mid_transaction else "(no open import seen)"
    try:
        reply = await imported
    except ApiError as exc:
        # Cut off between its commit and its answer: the retry is refused as applied.
        if not took_effect(exc):
            raise
        where += "; its answer lost, the retry refused as applied"
    else:
        assert len(reply.get("results", [])) == ADVISORIES, reply
    match = await portal.api.call(
        "POST",
        "/advisories:match",
        {"plugin": f"@chaos-{run}/pkg-7", "version": "1.0.0"},
    )
    assert [m["advisoryId"] for m in match.get("matches", [])] == [f"GHSA-chaos-{run}-0007"], match
    return Expected(
        "advisories",
        SETUP_EVENTS,
        {},
        note=f"disrupted {where}",
        rows={
            "advisories": Count(
                "SELECT count(*) FROM security.advisories WHERE advisory_id LIKE $1",
                f"GHSA-chaos-{run}-%",
                ADVISORIES,
            ),
            "advisory packages": Count(
                "SELECT count(*) FROM security.advisory_packages WHERE advisory_id LIKE $1",
                f"GHSA-chaos-{run}-%",
                ADVISORIES,
            ),
        },
    )


async def _writing(admin: asyncpg.Connection, role: str, table: str, *, within: float) -> bool:
    """Until a transaction of `role` is open on `table`; False if none was seen in time."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        running = await admin.fetchval(
            """SELECT count(*) FROM pg_stat_activity
               WHERE usename = $1 AND state <> 'idle' AND query ILIKE $2""",
            role,
            f"%{table}%",
        )
        if running:
            return True
        await asyncio.sleep(0.005)
    return False


FLOWS: dict[str, Callable[[Portal, Disrupt, asyncpg.Connection], Awaitable[Expected]]] = {
    "canary": canary,
    "rollback": rollback,
    "install": install,
    "advisories": advisories,
}


async def effects(admin: asyncpg.Connection, expected: Expected) -> dict[str, int]:
    """Each of the flow's counted rows, as found."""
    return {name: int(await admin.fetchval(c.sql, c.arg)) for name, c in expected.rows.items()}


async def audit(
    expected: Expected, ledger: Ledger, mark: Mark, tenant: str, admin: asyncpg.Connection
) -> Books:
    """The flow's books balance and its effects are in the database once each; nothing stuck.

    Waits for what is still on its way first: saga steps, events, deliveries.
    """
    # A saga step that asks a service which was down is retried until it is done.
    deadline = time.monotonic() + WITHIN
    while unfinished := await admin.fetch(
        "SELECT rollout_id, step, state FROM rollout.rollback_steps"
        " WHERE tenant_id = $1 AND state <> 'done'",
        tenant,
    ):
        assert time.monotonic() < deadline, [dict(r) for r in unfinished]
        await asyncio.sleep(0.2)
    books = await ledger.settled(tenant, mark, within=WITHIN)
    problems = books.problems()
    assert not problems, "\n".join(problems)
    decisions = Counter(
        {
            row["kind"]: row["n"]
            for row in await admin.fetch(
                """SELECT kind, count(*) AS n FROM rollout.rollout_decisions
                   WHERE tenant_id = $1 GROUP BY kind""",
                tenant,
            )
        }
    )
    events = expected.events + Counter({"rollout.decision.recorded": decisions.total()})
    assert books.by_type == events, (
        f"more: {books.by_type - events}, fewer: {events - books.by_type}"
    )
    if expected.holds_allowed:
        del decisions["hold"]
    assert decisions == expected.decisions, f"decisions {decisions}, not {expected.decisions}"
    wanted = {name: count.rows for name, count in expected.rows.items()}
    found = await effects(admin, expected)
    assert found == wanted, f"found {found}, wanted {wanted}"
    states = {
        row["rollout_id"]: row["state"]
        for row in await admin.fetch(
            "SELECT rollout_id, state FROM rollout.rollouts WHERE tenant_id = $1", tenant
        )
    }
    assert states == {rid: s.removeprefix("ROLLOUT_STATE_") for rid, s in expected.rollouts.items()}
    for row in await admin.fetch(
        """SELECT rollout_id, array_agg(seq ORDER BY seq) AS seqs FROM rollout.rollout_decisions
           WHERE tenant_id = $1 GROUP BY rollout_id""",
        tenant,
    ):
        # Every decision stored once, numbered without a gap or a repeat.
        assert list(row["seqs"]) == list(range(1, len(row["seqs"]) + 1)), dict(row)
    return books
