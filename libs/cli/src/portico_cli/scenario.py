"""The demo's two paths, through the gateway's HTTP API.

Happy path: a signed, compatible plugin version goes through security and
compat, then a canary that grows 10 -> 25 -> 50 -> 100% while good outcomes
are reported. Rollback path: the next version starts its canary, a burst of
failing outcomes trips the SLO's burn-rate rule, and the rollout service rolls
it back on the `slo.violated` event.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from portico_cli.api import Gateway, TenantApi, Tokens
from portico_cli.artifact import Artifact, PublisherKey, b64, build, read_manifest
from portico_cli.credentials import ADMIN_CLIENT_ID
from portico_cli.errors import DemoError
from portico_cli.events import EventFeed
from portico_cli.timeline import Timeline

PLUGIN = "@acme/plugin-cost-insights"
PUBLISHER = "acme"
HAPPY_VERSION = "2.3.0"
ROLLBACK_VERSION = "2.4.0"
ENGINES = {"node": ">=18", "backstage": "^1.30.0"}
PEER_DEPENDENCIES = {"@backstage/core-plugin-api": "^1.9.0", "react": "^18.0.0"}
HOST_PACKAGES = {"@backstage/core-plugin-api": "1.10.0", "react": "18.3.1"}
HOST_PROFILE = {"backstageVersion": "1.31.0", "nodeVersion": "20.11.0", "packages": HOST_PACKAGES}
SLO = {
    "objective": 0.99,
    "windowSeconds": 3600,
    "shortWindowSeconds": 60,
    "longWindowSeconds": 300,
    "minEvents": 20,
}
USERS = tuple(f"user-{i:02d}" for i in range(1, 21))

IN_PROGRESS = "ROLLOUT_STATE_IN_PROGRESS"
COMPLETED = "ROLLOUT_STATE_COMPLETED"
ROLLED_BACK = "ROLLOUT_STATE_ROLLED_BACK"
REFUSED = "ROLLOUT_STATE_REFUSED"
POLL_SECONDS = 0.2
BURST_BATCHES, BURST_BATCH_SIZE = 5, 20


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

    @property
    def ok(self) -> bool:
        return self.ran and not self.error and self.state == self.expected


class Scenario:
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

    # ---- the two paths --------------------------------------------------------

    async def happy_path(self, result: PathResult, bake_seconds: int) -> None:
        self.t.section(
            f"Happy path: {PLUGIN}@{result.version}, canary 10/25/50/100%,"
            f" {bake_seconds}s bake per phase"
        )
        result.ran = True
        started = time.monotonic()
        result.rollout_id = await self.submit(result.version, bake_seconds)
        timeout = 60.0 + 8 * bake_seconds
        deadline = started + timeout
        last: tuple[str, int] | None = None
        good = 0
        while True:
            rollout = await self.rollout(result.rollout_id)
            state, percent = rollout["state"], int(rollout.get("percent") or 0)
            result.state, result.reason = state, str(rollout.get("reason") or "")
            if (state, percent) != last:
                last = (state, percent)
                so_far = f" ({good} good outcomes reported)" if good else ""
                self.t.step(f"rollout {short(state)} at {percent}%{so_far}")
                if state in (IN_PROGRESS, COMPLETED):
                    if percent not in result.percents:
                        result.percents.append(percent)
                    await self.resolve_all(result.version, f"at {percent}%")
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
                good += await self.report(result.version, 10, failures=0)
            await asyncio.sleep(POLL_SECONDS)
        result.seconds = time.monotonic() - started

    async def rollback_path(self, result: PathResult, bake_seconds: int) -> None:
        self.t.section(
            f"Rollback path: {PLUGIN}@{result.version}, {bake_seconds}s bake so it stays in"
            " canary, then it starts failing"
        )
        result.ran = True
        started = time.monotonic()
        result.rollout_id = await self.submit(result.version, bake_seconds)
        rollout = await self.wait_for_state(result.rollout_id, IN_PROGRESS, within=60.0)
        percent = int(rollout.get("percent") or 0)
        result.percents.append(percent)
        await self.resolve_all(result.version, f"at {percent}%")
        violated = await self.burst(result.version)
        if not violated:
            self.t.step("the SLO service reported no violation; waiting for the rollout anyway")
        rollout = await self.wait_for_state(
            result.rollout_id, ROLLED_BACK, within=30.0, known=IN_PROGRESS
        )
        result.state, result.reason = rollout["state"], str(rollout.get("reason") or "")
        result.seconds = time.monotonic() - started
        answers = await self.resolve_all(result.version, "after the rollback", grows=False)
        wrong = sorted(user for user, version in answers.items() if version != HAPPY_VERSION)
        if wrong:
            got = ", ".join(f"{user}={answers[user] or 'nothing'}" for user in wrong[:5])
            raise DemoError(
                f"after the rollback {len(wrong)} of {len(USERS)} users do not get"
                f" {HAPPY_VERSION}: {got}"
            )
        self.t.step(f"every user is back on {HAPPY_VERSION}")

    # ---- steps ----------------------------------------------------------------

    async def submit(self, version: str, bake_seconds: int) -> str:
        """Packs and signs the version, asks for its rollout and SLO, runs both checks."""
        artifact = build(
            PLUGIN, version, self.key, engines=ENGINES, peer_dependencies=PEER_DEPENDENCIES
        )
        self.t.step(
            f"packed {PLUGIN}@{version}: {len(artifact.tarball)} bytes,"
            f" {artifact.integrity[:20]}..., signed by {self.key.key_id}"
        )
        reply = await self.api.call(
            "POST",
            "/rollouts",
            {"plugin": PLUGIN, "version": version, "bakeSeconds": bake_seconds},
        )
        rollout = reply.get("rollout") or {}
        rollout_id = str(rollout.get("rolloutId") or "")
        if not rollout_id:
            raise DemoError("POST /rollouts: the answer carries no rolloutId")
        phases = "/".join(str(p) for p in rollout.get("phases", []))
        self.t.step(
            f"rollout {rollout_id} requested: {short(str(rollout.get('state')))}"
            f" (phases {phases or 'default'}%, bake {rollout.get('bakeSeconds', bake_seconds)}s)"
        )
        slo = await self.api.call("POST", "/slos", {"plugin": PLUGIN, "version": version, **SLO})
        slo = slo.get("slo") or {}
        self.t.step(
            f"SLO {slo.get('sloId', '?')}: {float(slo.get('objective', SLO['objective'])):.0%} good"
            f" over {slo.get('windowSeconds', SLO['windowSeconds'])}s, burn-rate rule"
            f" {slo.get('shortWindowSeconds')}s/{slo.get('longWindowSeconds')}s"
            f" > {slo.get('burnRateThreshold', '?')}x, min {slo.get('minEvents')} events"
        )
        await self.verify(artifact)
        await self.check_compat(artifact)
        return rollout_id

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

    async def rollout(self, rollout_id: str) -> dict[str, Any]:
        reply = await self.api.call("GET", f"/rollouts/{rollout_id}")
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

    async def report(self, version: str, count: int, failures: int) -> int:
        """Reports outcomes of the version; returns how many were accepted."""
        reply = await self.api.call("POST", "/outcomes", self._outcomes(version, count, failures))
        return int(reply.get("accepted") or 0)

    async def burst(self, version: str) -> bool:
        """Failing outcomes in batches until the SLO service says it is violated."""
        self.t.step(f"{version} starts failing: reporting outcomes, half of them errors")
        for _ in range(BURST_BATCHES):
            reply = await self.api.call(
                "POST",
                "/outcomes",
                self._outcomes(version, BURST_BATCH_SIZE, BURST_BATCH_SIZE // 2),
            )
            violated = bool(reply.get("violated"))
            self.t.step(
                f"reported {BURST_BATCH_SIZE} outcomes ({BURST_BATCH_SIZE // 2} failed): burn rate"
                f" {float(reply.get('shortWindowBurnRate') or 0):.1f}x short,"
                f" {float(reply.get('longWindowBurnRate') or 0):.1f}x long"
                + ("  -> SLO violated" if violated else "")
            )
            if violated:
                return True
        return False

    def _outcomes(self, version: str, count: int, failures: int) -> dict[str, Any]:
        outcomes = [
            {"success": i >= failures, "latencyMs": self.rng.randint(20, 180)} for i in range(count)
        ]
        self.rng.shuffle(outcomes)
        return {"plugin": PLUGIN, "version": version, "outcomes": outcomes}

    async def resolve_all(self, version: str, when: str, *, grows: bool = True) -> dict[str, str]:
        """Which version each demo user gets now; checks stickiness while a canary grows."""
        replies = await asyncio.gather(
            *(
                self.api.call("POST", "/plugins:resolve", {"userId": user, "plugin": PLUGIN})
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
