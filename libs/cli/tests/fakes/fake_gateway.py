"""An in-memory Portico behind the gateway's HTTP routes, for testing `portico demo`.

It checks what the demo sends the way the real services do (the token's
tenant, the tarball's integrity, the Ed25519 signature over
NAME@VERSION:INTEGRITY, proto JSON field names) and plays the rollout: each
GET of a rollout advances it one phase; failing outcomes for a version under
canary trip the SLO, roll it back and page the tenant's PagerDuty channel
(over HTTP, as slo does); slow outcomes of a version with a configured breaker
open it and roll the version back. A plan's criteria are played too: a phase
needing more samples than were reported holds (with a HOLD decision), a
judged phase fails on slow canary outcomes (a judgment FAIL decision); pause
and promote are the operator's controls. A version its SLO rolls back takes
along each serving rollout whose compat check named a dependency on exactly
that version ("^<version>"), with a "dependency" decision naming the cause,
as rollout's rollback saga does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

SECRET = "s3cret"
PHASES = [10, 25, 50, 100]
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Rollout:
    rollout_id: str
    plugin: str
    version: str
    stable: str
    bake_seconds: int
    state: str = "ROLLOUT_STATE_AWAITING_CHECKS"
    phase: int = -1
    verified: bool = False
    compat: bool = False
    reason: str = ""
    # The SLO the rollout ensured for its version, as rollout does when asked for one.
    slo_id: str = ""
    plan: list[dict[str, Any]] = field(default_factory=list)
    samples: int = 0
    decisions: list[dict[str, Any]] = field(default_factory=list)
    health: str = "unknown"
    # The package.json "dependencies" its compat check declared.
    needs: dict[str, str] = field(default_factory=dict)

    @property
    def phases(self) -> list[int]:
        return [int(p["percent"]) for p in self.plan] or PHASES

    @property
    def percent(self) -> int:
        return self.phases[self.phase] if self.phase >= 0 and not self.rolled_back else 0

    def criteria(self) -> dict[str, Any]:
        if not self.plan or self.phase < 0:
            return {}
        criteria: dict[str, Any] = self.plan[self.phase].get("criteria") or {}
        return criteria

    def bake(self) -> int:
        if not self.plan or self.phase < 0:
            return self.bake_seconds
        return int(self.plan[self.phase]["bakeSeconds"])

    @property
    def rolled_back(self) -> bool:
        return self.state == "ROLLOUT_STATE_ROLLED_BACK"

    def json(self) -> dict[str, Any]:
        return {
            "rolloutId": self.rollout_id,
            "plugin": self.plugin,
            "version": self.version,
            "stableVersion": self.stable,
            "state": self.state,
            "phases": self.phases,
            "percent": self.percent,
            "bakeSeconds": self.bake_seconds,
            "reason": self.reason,
            "sloId": self.slo_id,
        }


@dataclass
class FakePortico:
    """Behaviour switches let a test make one thing go wrong."""

    reject_signature: bool = False
    never_violate: bool = False
    shuffle_users: bool = False
    keys: dict[str, str] = field(default_factory=dict)
    rollouts: dict[str, Rollout] = field(default_factory=dict)
    # plugin -> its stable version
    stable: dict[str, str] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    resolves: int = 0
    # The tenant's PagerDuty channel: where pages go, with which routing key.
    pagerduty: dict[str, str] = field(default_factory=dict)
    routed: bool = False
    # Breakers configured by version: slow-call threshold (ms) and rate (percent).
    breakers: dict[str, tuple[float, float]] = field(default_factory=dict)
    # Switches: no page is sent; the breaker never opens (the SLO rolls the version back).
    never_page: bool = False
    never_open: bool = False
    # Switch: rollout ensures no SLO (the rollout names none).
    no_slo: bool = False
    # What the decision that rolls a judged canary back names as its source.
    judge_source: str = "judgment"
    # What the decision that takes a dependent along names as its source.
    dependent_source: str = "dependency"
    # Decisions are stamped one second apart, in the order they are taken.
    decided: int = 0

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append(f"{request.method} {path}")
        body = json.loads(request.content) if request.content else {}
        if path == "/v1/auth/token":
            if body.get("clientSecret") != SECRET or body.get("clientId") != "portico-admin":
                return problem(401, "Unauthenticated", "invalid client credentials")
            return httpx.Response(
                200, json={"accessToken": f"tok:{body['tenantId']}", "expiresIn": 900}
            )
        token = request.headers.get("authorization", "").removeprefix("Bearer tok:")
        if path == "/v1/tenants":
            if token != "*":
                return problem(403, "Permission Denied", "admin token required")
            return httpx.Response(200, json={"tenant": {"tenantId": body["tenantId"]}})
        return self.scoped(request.method, path, token, body)

    def scoped(self, method: str, path: str, token: str, body: dict[str, Any]) -> httpx.Response:
        match = re.fullmatch(r"/v1/tenants/([a-z0-9-]+)(/.*)", path)
        if match is None:
            return problem(404, "Not Found", f"no route for {path}")
        tenant, rest = match.groups()
        if token != tenant:
            return problem(403, "Permission Denied", f"token cannot act for tenant {tenant}")
        return self.tenant_route(method, rest, body)

    def tenant_route(self, method: str, rest: str, body: dict[str, Any]) -> httpx.Response:
        routes = {
            ("POST", "/publisher-keys"): self.register_key,
            ("PUT", "/host-profile"): lambda b: ok({"profile": b}),
            ("POST", "/rollouts"): self.request_rollout,
            ("POST", "/artifacts:verify"): self.verify,
            ("POST", "/compatibility:check"): self.check,
            ("POST", "/outcomes"): self.outcomes,
            ("POST", "/plugins:resolve"): self.resolve,
            ("POST", "/alerting/channels"): self.create_channel,
            ("PUT", "/alerting/routing"): self.set_routing,
            ("POST", "/breakers"): self.configure_breaker,
        }
        handler = routes.get((method, rest))
        if handler is not None:
            return handler(body)
        if method == "GET" and rest.startswith("/rollouts/"):
            return self.get_rollout(rest.removeprefix("/rollouts/"))
        if method == "GET" and rest.startswith("/slos/"):
            return self.get_slo(rest.removeprefix("/slos/"))
        control = re.fullmatch(r"/rollouts/([^/:]+):(pause|promote)", rest)
        if method == "POST" and control is not None:
            return self.control(*control.groups())
        return problem(404, "Not Found", f"no route for {method} {rest}")

    def register_key(self, body: dict[str, Any]) -> httpx.Response:
        assert body["algorithm"] == "KEY_ALGORITHM_ED25519"
        self.keys[body["keyId"]] = body["publicKeyPem"]
        return ok({"key": body})

    def request_rollout(self, body: dict[str, Any]) -> httpx.Response:
        number = len(self.rollouts) + 1
        plan = list(body.get("plan") or [])
        rollout = Rollout(
            f"r-{number}",
            body["plugin"],
            body["version"],
            self.stable.get(body["plugin"], ""),
            int(body.get("bakeSeconds") or 300),
            plan=plan,
            slo_id="" if self.no_slo else f"slo-{number}",
        )
        self.rollouts[rollout.rollout_id] = rollout
        return ok({"rollout": rollout.json()})

    def get_slo(self, slo_id: str) -> httpx.Response:
        """The built-in template's SLO, as slo returns it."""
        rollout = next((r for r in self.rollouts.values() if r.slo_id == slo_id), None)
        if rollout is None:
            return problem(404, "Not Found", f"SLO {slo_id} not found")
        tiers = [
            {
                "name": "page-1h",
                "severity": "page",
                "longWindowSeconds": 3600,
                "shortWindowSeconds": 300,
                "factor": 14.4,
                "enabled": True,
            },
            {
                "name": "ticket-3d",
                "severity": "ticket",
                "longWindowSeconds": 259200,
                "shortWindowSeconds": 21600,
                "factor": 1.0,
                "enabled": True,
            },
        ]
        return ok(
            {
                "slo": {
                    "sloId": slo_id,
                    "plugin": rollout.plugin,
                    "version": rollout.version,
                    "objective": 0.99,
                    "windowSeconds": 2592000,
                    "minEvents": 10,
                    "spec": {"objective": 0.99, "tiers": tiers},
                }
            }
        )

    def _by_version(self, body: dict[str, Any]) -> Rollout:
        return next(
            r
            for r in reversed(self.rollouts.values())
            if (r.plugin, r.version) == (body["plugin"], body["version"])
        )

    def verify(self, body: dict[str, Any]) -> httpx.Response:
        tarball = base64.b64decode(body["tarball"])
        digest = base64.b64encode(hashlib.sha512(tarball).digest()).decode()
        integrity_ok = body["integrity"] == f"sha512-{digest}"
        public = load_pem_public_key(self.keys[body["keyId"]].encode())
        assert isinstance(public, Ed25519PublicKey)
        message = f"{body['plugin']}@{body['version']}:{body['integrity']}".encode()
        try:
            public.verify(base64.b64decode(body["signature"]), message)
            signature_ok = not self.reject_signature
        except Exception:  # noqa: BLE001 - any failure is a bad signature
            signature_ok = False
        if not signature_ok:
            return problem(400, "Failed Precondition", "signature does not verify with key acme")
        assert integrity_ok
        self._by_version(body).verified = True
        return ok(
            {
                "verificationId": "v-1",
                "verdict": "VERDICT_VERIFIED",
                "checks": [
                    {"name": "integrity", "passed": True},
                    {"name": "signature", "passed": True},
                ],
            }
        )

    def check(self, body: dict[str, Any]) -> httpx.Response:
        assert body["engines"] == {"node": ">=18", "backstage": "^1.30.0"}
        assert set(body["peerDependencies"]) == {"@backstage/core-plugin-api", "react"}
        rollout = self._by_version(body)
        rollout.compat = True
        rollout.needs = dict(body.get("dependencies") or {})
        findings = [
            {"name": name, "requiredRange": rng, "hostVersion": "x", "satisfied": True}
            for name, rng in body["engines"].items()
        ]
        return ok({"checkId": "c-1", "compatible": True, "findings": findings})

    def get_rollout(self, rollout_id: str) -> httpx.Response:
        rollout = self.rollouts[rollout_id]
        if rollout.state == "ROLLOUT_STATE_AWAITING_CHECKS" and rollout.verified and rollout.compat:
            rollout.state, rollout.phase = "ROLLOUT_STATE_IN_PROGRESS", 0
        elif rollout.state == "ROLLOUT_STATE_IN_PROGRESS" and rollout.bake() < 10:
            # Short bakes advance one phase per poll; long ones stay in canary.
            self.judge_phase(rollout)
        return ok(
            {
                "rollout": rollout.json(),
                "health": {"status": rollout.health},
                "decisions": rollout.decisions[::-1],
            }
        )

    def judge_phase(self, rollout: Rollout) -> None:
        """A phase's criteria: too few samples hold it; a judged phase waits for its judgment."""
        criteria = rollout.criteria()
        wanted = int(criteria.get("minSamples", 0))
        if rollout.samples < wanted:
            rollout.health = "holding"
            reason = f"not enough samples: {rollout.samples} of {wanted} canary outcomes"
            rollout.decisions.append(decision("DECISION_KIND_HOLD", "criteria", reason))
            return
        if criteria.get("judgment"):
            return
        rollout.health = "healthy"
        self.advance(rollout)

    def advance(self, rollout: Rollout) -> None:
        """One phase on; a rollout in its last phase (promoted there) completes."""
        rollout.phase = min(rollout.phase + 1, len(rollout.phases) - 1)
        rollout.decisions.append(decision("DECISION_KIND_ADVANCE", "criteria", "criteria hold"))
        if rollout.phase == len(rollout.phases) - 1:
            rollout.state = "ROLLOUT_STATE_COMPLETED"
            self.stable[rollout.plugin] = rollout.version

    def control(self, rollout_id: str, action: str) -> httpx.Response:
        rollout = self.rollouts[rollout_id]
        if action == "pause":
            rollout.state = "ROLLOUT_STATE_PAUSED"
        else:
            rollout.state = "ROLLOUT_STATE_IN_PROGRESS"
            rollout.phase = len(rollout.phases) - 1
        return ok({"rollout": rollout.json()})

    def create_channel(self, body: dict[str, Any]) -> httpx.Response:
        config = body["pagerduty"]
        assert len(config["routingKey"]) == 32
        self.pagerduty = {"name": body["name"], **config}
        return ok({"channel": {"channelId": "ch-1", "name": body["name"]}})

    def set_routing(self, body: dict[str, Any]) -> httpx.Response:
        assert body["route"]["receiver"] == self.pagerduty["name"]
        self.routed = True
        return ok({"tree": body})

    def configure_breaker(self, body: dict[str, Any]) -> httpx.Response:
        config = body["config"]
        slow_ms = float(config["slowCallDurationThreshold"].removesuffix("s")) * 1000
        self.breakers[body["version"]] = (slow_ms, float(config["slowCallRateThreshold"]))
        return ok({"breaker": {"breakerId": "b-1", "version": body["version"]}})

    def page(self, rollout: Rollout) -> None:
        if self.never_page or not self.routed:
            return
        event = {
            "routing_key": self.pagerduty["routingKey"],
            "event_action": "trigger",
            "dedup_key": f"portico/demo-tenant/{rollout.slo_id}/page-1h",
            "payload": {
                "summary": f"{rollout.version} burns",
                "source": "portico",
                "severity": "critical",
                "class": "page-1h",
            },
        }
        httpx.post(self.pagerduty["url"], json=event, timeout=5).raise_for_status()

    def outcomes(self, body: dict[str, Any]) -> httpx.Response:
        failed = sum(1 for o in body["outcomes"] if not o["success"])
        rollout = self._by_version(body)
        rollout.samples += len(body["outcomes"])
        slowest = max(o["latencyMs"] for o in body["outcomes"])
        if rollout.criteria().get("judgment") and slowest >= 600 and rollout.rolled_back is False:
            rollout.state = "ROLLOUT_STATE_ROLLED_BACK"
            rollout.reason = "judgment FAIL: score 33.3 below the marginal threshold 75"
            rollout.decisions.append(
                self.decide("DECISION_KIND_FAIL", self.judge_source, rollout.reason)
            )
        violated = failed > 0 and not self.never_violate
        breaker = self.breakers.get(body["version"])
        if breaker is not None:
            slow = sum(1 for o in body["outcomes"] if o["latencyMs"] >= breaker[0])
            if 100 * slow / len(body["outcomes"]) >= breaker[1]:
                rollout.state = "ROLLOUT_STATE_ROLLED_BACK"
                rollout.reason = (
                    "slo violated"
                    if self.never_open
                    else "circuit breaker b-1 opened: CLOSED -> OPEN: slow call rate"
                )
        if violated and rollout.state == "ROLLOUT_STATE_IN_PROGRESS":
            rollout.state, rollout.reason = "ROLLOUT_STATE_ROLLED_BACK", "slo violated"
            rollout.decisions.append(self.decide("DECISION_KIND_ROLLBACK", "slo", rollout.reason))
            self.page(rollout)
            self.roll_back_dependents(rollout)
        elif failed and self.never_violate:
            rollout.state = "ROLLOUT_STATE_COMPLETED"
            self.stable[rollout.plugin] = rollout.version
        burn = 50.0 if failed else 0.0
        return ok(
            {
                "accepted": len(body["outcomes"]),
                "violated": violated,
                "shortWindowBurnRate": burn,
                "longWindowBurnRate": burn,
            }
        )

    def decide(
        self, kind: str, source: str, reason: str, evidence: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        self.decided += 1
        at = T0 + timedelta(seconds=self.decided)
        return decision(kind, source, reason) | {
            "at": at.isoformat().replace("+00:00", "Z"),
            "evidenceJson": json.dumps(evidence or {}),
        }

    def roll_back_dependents(self, going: Rollout) -> None:
        """The serving rollouts whose version needs `going`'s go back after it."""
        for rollout in list(self.rollouts.values()):
            serves = rollout.state in ("ROLLOUT_STATE_IN_PROGRESS", "ROLLOUT_STATE_PAUSED")
            if serves and rollout.needs.get(going.plugin) == f"^{going.version}":
                needs = f"{going.plugin}@{going.version}"
                rollout.state = "ROLLOUT_STATE_ROLLED_BACK"
                rollout.reason = f"needs {needs}, rolled back by rollout {going.rollout_id}"
                evidence = {"dependency": {"needs": needs, "rollout_id": going.rollout_id}}
                rollout.decisions.append(
                    self.decide(
                        "DECISION_KIND_ROLLBACK", self.dependent_source, rollout.reason, evidence
                    )
                )

    def resolve(self, body: dict[str, Any]) -> httpx.Response:
        self.resolves += 1
        serving = ("ROLLOUT_STATE_IN_PROGRESS", "ROLLOUT_STATE_PAUSED")
        live = [
            r for r in self.rollouts.values() if r.state in serving and r.plugin == body["plugin"]
        ]
        bucket = int(hashlib.sha256(body["userId"].encode()).hexdigest(), 16) % 100
        if self.shuffle_users:
            bucket = (bucket + 37 * self.resolves) % 100
        if live and bucket < live[0].percent:
            return ok({"version": live[0].version, "inCanary": True, "bucket": bucket})
        stable = self.stable.get(body["plugin"], "")
        return ok({"version": stable, "inCanary": False, "bucket": bucket})


def decision(kind: str, source: str, reason: str) -> dict[str, Any]:
    return {"kind": kind, "source": source, "reasons": [reason]}


def ok(body: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json=body)


def problem(status: int, title: str, detail: str) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(
            {"type": "about:blank", "title": title, "status": status, "detail": detail}
        ),
        headers={"content-type": "application/problem+json"},
    )
