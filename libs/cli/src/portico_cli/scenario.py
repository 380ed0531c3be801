"""What both demo paths share: the plugin, the tenant's set-up and the steps of a rollout.

The paths themselves, through the gateway's HTTP API, are `happy_path`
(a canary that grows to 100%) and `rollback_path` (a canary that an SLO
violation rolls back).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from portico_cli.api import AnswerLostError, Gateway, TenantApi, Tokens
from portico_cli.artifact import Artifact, PublisherKey, b64, build, read_manifest
from portico_cli.credentials import ADMIN_CLIENT_ID
from portico_cli.errors import DemoError
from portico_cli.events import EventFeed
from portico_cli.local_catalog import ENGINES, PEER_DEPENDENCIES, PLUGIN
from portico_cli.timeline import Timeline

PUBLISHER = "acme"
HAPPY_VERSION = "2.3.0"
ROLLBACK_VERSION = "2.4.0"
HOST_PACKAGES = {"@backstage/core-plugin-api": "1.10.0", "react": "18.3.1"}
HOST_PROFILE = {"backstageVersion": "1.31.0", "nodeVersion": "20.11.0", "packages": HOST_PACKAGES}
USERS = tuple(f"user-{i:02d}" for i in range(1, 21))

IN_PROGRESS = "ROLLOUT_STATE_IN_PROGRESS"
COMPLETED = "ROLLOUT_STATE_COMPLETED"
ROLLED_BACK = "ROLLOUT_STATE_ROLLED_BACK"
REFUSED = "ROLLOUT_STATE_REFUSED"
POLL_SECONDS = 0.2


def short(state: str) -> str:
    return state.removeprefix("ROLLOUT_STATE_")


@dataclass
class PathResult:
    """How one path ended, for the summary."""

    title: str
    version: str
    expected: str
    state: str = ""
    percents: list[int] = field(default_factory=list)
    reason: str = ""
    error: str = ""
    rollout_id: str = ""
    seconds: float = 0.0
    ran: bool = False
    # What the path showed besides its end state (a hold's reason, the judge's verdict).
    detail: str = ""
    # What the summary names; empty: the demo's plugin at `version`.
    subject: str = ""

    @property
    def ok(self) -> bool:
        return self.ran and not self.error and self.state == self.expected


class Scenario:
    """One demo tenant: its set-up, and the steps both paths are made of."""

    def __init__(
        self,
        *,
        gateway: Gateway,
        tokens: Tokens,
        tenant: str,
        timeline: Timeline,
        feed: EventFeed,
        rng: random.Random | None = None,
    ) -> None:
        self.gateway = gateway
        self.tokens = tokens
        self.api = TenantApi(gateway, tokens, tenant)
        self.tenant = tenant
        self.t = timeline
        self.feed = feed
        self.rng = rng or random.Random()  # noqa: S311 - latencies, not secrets
        self.key = PublisherKey.generate(PUBLISHER, f"{PUBLISHER}-{tenant}")
        # Users each canary version has served; a user must never drop out while it grows.
        self.served: dict[str, set[str]] = {}
        # The SLO the rollout ensured for each version submitted.
        self.slo_ids: dict[str, str] = {}
        self.sticky_breaks: list[str] = []

    # ---- set-up ---------------------------------------------------------------

    async def prepare(self) -> None:
        """Admin token, a fresh tenant, its own token, a publisher key, the host profile."""
        _, lifetime = await self.tokens.issue("*")
        self.t.step(f"admin token issued to {ADMIN_CLIENT_ID} for all tenants (valid {lifetime}s)")
        await self.gateway.call(
            "POST",
            "/v1/tenants",
            body={"tenantId": self.tenant, "displayName": "Portico demo"},
            token=await self.tokens.get("*"),
        )
        self.t.step(f"tenant {self.tenant} created")
        _, lifetime = await self.tokens.issue(self.tenant)
        self.t.step(f"token issued for tenant {self.tenant} (valid {lifetime}s)")
        await self.api.call(
            "POST",
            "/publisher-keys",
            {
                "publisher": PUBLISHER,
                "keyId": self.key.key_id,
                "algorithm": "KEY_ALGORITHM_ED25519",
                "publicKeyPem": self.key.public_key_pem,
            },
        )
        self.t.step(f"publisher key {self.key.key_id} registered (Ed25519)")
        await self.api.call("PUT", "/host-profile", HOST_PROFILE)
        packages = ", ".join(f"{name} {version}" for name, version in HOST_PACKAGES.items())
        self.t.step(
            f"host profile set: Backstage {HOST_PROFILE['backstageVersion']},"
            f" Node.js {HOST_PROFILE['nodeVersion']}, {packages}"
        )

    # ---- steps ----------------------------------------------------------------

    async def submit(
        self,
        version: str,
        bake_seconds: int,
        *,
        plan: list[dict[str, Any]] | None = None,
        plugin: str = PLUGIN,
        dependencies: dict[str, str] | None = None,
    ) -> str:
        """Packs and signs the version, asks for its rollout, shows its SLO, runs both checks.

        `plan`, when given, is the rollout's whole plan (percent, bake, criteria per phase).
        """
        artifact = build(
            plugin,
            version,
            self.key,
            engines=ENGINES,
            peer_dependencies=PEER_DEPENDENCIES,
            dependencies=dependencies,
        )
        needs = "".join(f", needs {name} {rng}" for name, rng in (dependencies or {}).items())
        self.t.step(
            f"packed {plugin}@{version}: {len(artifact.tarball)} bytes,"
            f" {artifact.integrity[:20]}..., signed by {self.key.key_id}{needs}"
        )
        request: dict[str, Any] = {"plugin": plugin, "version": version}
        request |= {"plan": plan} if plan else {"bakeSeconds": bake_seconds}
        reply = await self.api.call("POST", "/rollouts", request)
        rollout = reply.get("rollout") or {}
        rollout_id = str(rollout.get("rolloutId") or "")
        if not rollout_id:
            raise DemoError("POST /rollouts: the answer carries no rolloutId")
        phases = "/".join(str(p) for p in rollout.get("phases", []))
        bakes = (
            "/".join(str(p["bakeSeconds"]) for p in plan)
            if plan
            else str(rollout.get("bakeSeconds", bake_seconds))
        )
        self.t.step(
            f"rollout {rollout_id} requested: {short(str(rollout.get('state')))}"
            f" (phases {phases or 'default'}%, bake {bakes}s)"
        )
        await self.show_slo(version, str(rollout.get("sloId") or ""))
        await self.verify(artifact)
        await self.check_compat(artifact)
        return rollout_id

    async def show_slo(self, version: str, slo_id: str) -> None:
        """The SLO the rollout ensured for the version (from the tenant's template): the one
        its violations roll the canary back on and page for."""
        if not slo_id:
            raise DemoError(f"POST /rollouts: the rollout of {version} names no SLO (sloId)")
        slo = (await self.api.call("GET", f"/slos/{slo_id}")).get("slo") or {}
        self.slo_ids[version] = slo_id
        tiers = (slo.get("spec") or {}).get("tiers") or []
        self.t.step(
            f"SLO {slo_id} ensured by the rollout: {float(slo.get('objective') or 0):.0%} good"
            f" over {_duration(int(slo.get('windowSeconds') or 0))},"
            f" min {slo.get('minEvents', '?')} events"
        )
        for tier in tiers:
            self.t.detail(
                f"{tier.get('name')} ({tier.get('severity')}): burn > {tier.get('factor')}x"
                f" over {_duration(int(tier.get('longWindowSeconds') or 0))}"
                f" and {_duration(int(tier.get('shortWindowSeconds') or 0))}"
                + ("" if tier.get("enabled", True) else ", disabled")
            )

    async def verify(self, artifact: Artifact) -> None:
        reply = await self.api.call(
            "POST",
            "/artifacts:verify",
            {
                "plugin": artifact.name,
                "version": artifact.version,
                "tarball": b64(artifact.tarball),
                "integrity": artifact.integrity,
                "signature": b64(artifact.signature),
                "keyId": artifact.key_id,
            },
        )
        verdict = str(reply.get("verdict", ""))
        checks = reply.get("checks") or []
        self.t.step(f"security: {verdict.removeprefix('VERDICT_')} ({_checks(checks)})")
        if verdict != "VERDICT_VERIFIED":
            failed = [f"{c.get('name')}: {c.get('detail')}" for c in checks if not c.get("passed")]
            raise DemoError(
                f"security rejected {artifact.name}@{artifact.version}: {'; '.join(failed)}"
            )

    async def check_compat(self, artifact: Artifact) -> None:
        # What the tarball declares, read back from it as an installer would.
        manifest = read_manifest(artifact.tarball)
        reply = await self.api.call(
            "POST",
            "/compatibility:check",
            {
                "plugin": artifact.name,
                "version": artifact.version,
                "engines": manifest.get("engines", {}),
                "peerDependencies": manifest.get("peerDependencies", {}),
                "dependencies": manifest.get("dependencies", {}),
            },
        )
        compatible = bool(reply.get("compatible"))
        self.t.step(f"compat: {'compatible' if compatible else 'INCOMPATIBLE'}")
        for finding in reply.get("findings") or []:
            mark = "ok" if finding.get("satisfied") else "NO"
            self.t.detail(
                f"{mark:<3} {finding.get('name')} {finding.get('requiredRange')}"
                f" (host {finding.get('hostVersion') or 'none'})"
                + (f": {finding['reason']}" if finding.get("reason") and mark == "NO" else "")
            )
        if not compatible:
            raise DemoError(f"compat found {artifact.name}@{artifact.version} incompatible")

    async def rollout_view(self, rollout_id: str) -> dict[str, Any]:
        """GET /rollouts/{id} as it answers: the rollout, its health and latest decisions."""
        return await self.api.call("GET", f"/rollouts/{rollout_id}")

    async def rollout(self, rollout_id: str) -> dict[str, Any]:
        reply = await self.rollout_view(rollout_id)
        rollout = reply.get("rollout")
        if not isinstance(rollout, dict) or "state" not in rollout:
            raise DemoError(f"GET /rollouts/{rollout_id}: the answer carries no rollout state")
        return rollout

    async def wait_for_state(
        self, rollout_id: str, wanted: str, *, within: float, known: str = ""
    ) -> dict[str, Any]:
        """Polls until the rollout is in `wanted`; prints each state it passes."""
        deadline = time.monotonic() + within
        last = known
        while True:
            rollout = await self.rollout(rollout_id)
            state = rollout["state"]
            if state != last:
                last = state
                self.t.step(f"rollout {short(state)} at {int(rollout.get('percent') or 0)}%")
            if state == wanted:
                return rollout
            if state in (COMPLETED, ROLLED_BACK, REFUSED):
                hint = " (bake longer: --rollback-bake-seconds)" if state == COMPLETED else ""
                reason = rollout.get("reason") or "no reason given"
                raise DemoError(
                    f"the rollout ended {short(state)} instead of {short(wanted)}: {reason}{hint}"
                )
            if time.monotonic() > deadline:
                raise DemoError(
                    f"the rollout did not reach {short(wanted)} within {within:.0f}s"
                    f" (it is {short(state)})"
                )
            await asyncio.sleep(POLL_SECONDS / 2)

    def outcomes(self, version: str, count: int, failures: int) -> dict[str, Any]:
        """`count` outcomes of the version, `failures` of them failed, in random order."""
        outcomes = [
            {"success": i >= failures, "latencyMs": self.rng.randint(20, 180)} for i in range(count)
        ]
        self.rng.shuffle(outcomes)
        return {"plugin": PLUGIN, "version": version, "outcomes": outcomes}

    async def report_outcomes(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """Reports outcomes; None when they were counted but the answer was lost in an outage.

        A report retried across an outage may find that its first attempt took
        effect (same idempotency key) before the suite could answer: sending it
        again under a new key would count the outcomes twice, so it is done.
        """
        try:
            return await self.api.call("POST", "/outcomes", body)
        except AnswerLostError:
            self.t.detail(
                f"{len(body['outcomes'])} outcomes of {body['version']} were counted before an"
                " outage; their answer was lost, so they are not sent again"
            )
            return None

    async def resolve_all(
        self, version: str, when: str, *, grows: bool = True, plugin: str = PLUGIN
    ) -> dict[str, str]:
        """Which version each demo user gets now; checks stickiness while a canary grows."""
        replies = await asyncio.gather(
            *(
                self.api.call("POST", "/plugins:resolve", {"userId": user, "plugin": plugin})
                for user in USERS
            )
        )
        answers = {
            user: str(reply.get("version") or "")
            for user, reply in zip(USERS, replies, strict=True)
        }
        on_it = [user for user in USERS if answers[user] == version]
        rest = Counter(v or "nothing" for v in answers.values() if v != version)
        others = "".join(f", {n} on {v}" for v, n in sorted(rest.items()))
        listed = " ".join(on_it[:8]) + (" ..." if len(on_it) > 8 else "")
        self.t.detail(
            f"resolve {when}: {len(on_it)}/{len(USERS)} users on {version}"
            + (f" ({listed})" if on_it else "")
            + others
        )
        if grows:
            served = self.served.setdefault(version, set())
            dropped = sorted(served - set(on_it))
            if dropped:
                self.sticky_breaks.append(f"{version} {when}: {', '.join(dropped)} left it")
                self.t.detail(f"NOT STICKY: {', '.join(dropped)} had {version} and lost it")
            served.update(on_it)
        return answers


def _checks(checks: list[dict[str, Any]]) -> str:
    return (
        ", ".join(f"{c.get('name')} {'ok' if c.get('passed') else 'FAILED'}" for c in checks)
        or "no checks"
    )


def _duration(seconds: int) -> str:
    """Seconds as the largest whole unit: 2592000 -> 30d, 3600 -> 1h, 90 -> 90s."""
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
