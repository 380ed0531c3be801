"""kill -9 of the rollout process at every step of a canary and of a rollback saga.

A real `python -m portico_rollout` process on real NATS JetStream and
PostgreSQL (slo runs as its own process too) is killed with SIGKILL: after a
request, in the middle of a phase's bake, in the middle of a promotion
decision and in the middle of a rollback saga, then started again; and one
of two replicas racing for the same steps. Each time
the rollout resumes at the exact step and ends exactly once: every decision
stored once with contiguous numbers, every event on the stream once (counted
there, not in the database), and ResolveVersion's in-memory view agreeing
with the stored state.

The middle of a decision or saga is made to last: the test holds an EXCLUSIVE
lock on the table the step writes next, waits until PostgreSQL shows the
service's transaction blocked on it, and kills the process then. The gap
between a committed rollback and its event's publish is made to last the
same way: the test holds the outbox relay's own lock (the one two relays of
a place take in turn), so the rollback commits and its row waits in the
outbox, and the process is killed then. One NATS, one database and one slo
serve the whole module; each test has its own tenant.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import grpc
import httpx
import nats
import pytest
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from prometheus_client.parser import text_string_to_metric_families

from portico.events.v1 import events_pb2 as ev
from portico.rollout.v1 import rollout_pb2 as pb
from portico.rollout.v1 import rollout_pb2_grpc as pb_grpc
from portico_common.events.bus import publish
from portico_common.events.catalog import STREAM, subject_for, type_of
from portico_common.events.envelope import Envelope
from portico_common.events.topology import owner_source
from portico_embedded.nats import NatsServer
from portico_embedded.testing.databases import prepare_service_database
from portico_embedded.testing.fixtures import unique, unique_tenant
from portico_embedded.testing.services import ServiceProcess, infra_env
from portico_rollout.testing.driver import Watch, eventually

pytestmark = pytest.mark.integration

PLUGIN = "@acme/plugin-cost-insights"
USERS = tuple(f"user-{i:03d}" for i in range(60))
# No samples are needed: these tests are about crashes, not evidence.
NO_SAMPLES = pb.SuccessCriteria(min_samples=0)
# A redelivery of an event taken by the killed process comes this soon.
ACK_WAIT_SECONDS = "1.5"

# The advisory lock a relay takes (per transaction) before it publishes the
# service's shared outbox: "portico:outbox:<schema>" (OutboxRelay.relay_once).
OUTBOX_RELAY_LOCK = "portico:outbox:rollout"

IN_PROGRESS = pb.ROLLOUT_STATE_IN_PROGRESS
COMPLETED = pb.ROLLOUT_STATE_COMPLETED
ROLLED_BACK = pb.ROLLOUT_STATE_ROLLED_BACK


@dataclass(frozen=True)
class Infra:
    """What the module's tests share: NATS, the database (admin URL), slo, rollout's env."""

    nats_url: str
    admin_url: str
    rollout_env: dict[str, str]
    workdir: Path


async def _create_database(server_url: str) -> str:
    name = unique("kill9")
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return f"{server_url.rpartition('/')[0]}/{name}"


async def _drop_database(server_url: str, url: str) -> None:
    name = url.rpartition("/")[2]
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="module")
def infra(postgres_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    """One NATS, one database and one slo process for every test of the module."""
    home = tmp_path_factory.mktemp("kill9")
    server = NatsServer(home / "nats").start()
    admin_url = asyncio.run(_create_database(postgres_server))
    slo = None
    try:
        slo_url = asyncio.run(prepare_service_database(admin_url, "slo", "portico_slo.migrations"))
        rollout_url = asyncio.run(
            prepare_service_database(admin_url, "rollout", "portico_rollout.migrations")
        )
        slo = ServiceProcess("portico_slo", infra_env(slo_url, server.url), home / "slo").start()
        env = infra_env(
            rollout_url,
            server.url,
            rollout_slo_target=slo.target,
            rollout_tick_seconds="0.05",
            rollout_recheck_seconds="1",
            event_ack_wait_seconds=ACK_WAIT_SECONDS,
            outbox_poll_seconds="0.2",
            log_level="WARNING",
        )
        yield Infra(server.url, admin_url, env, home)
    finally:
        if slo is not None:
            slo.stop()
        asyncio.run(_drop_database(postgres_server, admin_url))
        server.stop()


class Rollouts:
    """The rollout process of one test: started, killed, started again; and what it left."""

    def __init__(
        self,
        infra: Infra,
        workdir: Path,
        db: asyncpg.Connection,
        js: JetStreamContext,
        watch: Watch,
    ) -> None:
        self.infra = infra
        self.js = js
        self.process = ServiceProcess("portico_rollout", infra.rollout_env, workdir)
        self.db = db
        self.watch = watch
        self.tenant = unique_tenant()
        self._channel: grpc.aio.Channel | None = None
        self.stub: pb_grpc.RolloutServiceAsyncStub | None = None
        self.kills = 0

    async def start(self) -> None:
        await asyncio.to_thread(self.process.start)
        self._channel = grpc.aio.insecure_channel(self.process.target)
        self.stub = pb_grpc.RolloutServiceStub(self._channel)

    async def adopt(self, process: ServiceProcess) -> None:
        """Talks to another running replica from now on."""
        await self.close_channel()
        self.process = process
        self._channel = grpc.aio.insecure_channel(process.target)
        self.stub = pb_grpc.RolloutServiceStub(self._channel)

    async def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, nothing is flushed."""
        self.process.kill()
        self.kills += 1
        await self.close_channel()

    async def restart(self) -> None:
        await self.kill()
        await self.start()

    async def close_channel(self) -> None:
        if self._channel is not None:
            await self._channel.close(grace=None)
            self._channel = None

    def rpc(self) -> pb_grpc.RolloutServiceAsyncStub:
        assert self.stub is not None, "the process is not running"
        return self.stub

    async def request(self, version: str, plan: list[pb.PhaseSpec]) -> str:
        reply = await self.rpc().RequestRollout(
            pb.RequestRolloutRequest(
                tenant_id=self.tenant, plugin=PLUGIN, version=version, plan=plan
            ),
            timeout=15,
        )
        return reply.rollout.rollout_id

    async def checks_pass(self, version: str) -> None:
        """security and compat publish their verdicts (the rollout needs not be running)."""
        for payload in (
            ev.ArtifactVerified(tenant_id=self.tenant, plugin=PLUGIN, version=version),
            ev.CompatChecked(
                tenant_id=self.tenant, plugin=PLUGIN, version=version, compatible=True
            ),
        ):
            await self.publish(payload)

    async def publish(
        self, payload: ev.ArtifactVerified | ev.CompatChecked | ev.SloViolated
    ) -> None:
        source = owner_source(type_of(payload))
        envelope = Envelope.of(payload, source=source, tenant_id=self.tenant)
        await publish(self.js, envelope)

    async def get(self, rollout_id: str) -> pb.Rollout:
        reply = await self.rpc().GetRollout(
            pb.GetRolloutRequest(tenant_id=self.tenant, rollout_id=rollout_id), timeout=10
        )
        return reply.rollout

    async def reaches(self, rollout_id: str, state: int, percent: int | None = None) -> pb.Rollout:
        found: list[pb.Rollout] = []

        async def there() -> bool:
            rollout = await self.get(rollout_id)
            found[:] = [rollout]
            return rollout.state == state and percent in (None, rollout.percent)

        await eventually(there, within=20)
        return found[0]

    async def decisions(self, rollout_id: str) -> list[pb.Decision]:
        reply = await self.rpc().ListRolloutDecisions(
            pb.ListRolloutDecisionsRequest(tenant_id=self.tenant, rollout_id=rollout_id),
            timeout=10,
        )
        return list(reply.decisions)

    async def decision_seqs(self, rollout_id: str) -> list[int]:
        """The stored decisions' numbers (read behind row-level security, as the admin)."""
        rows = await self.db.fetch(
            "SELECT seq FROM rollout.rollout_decisions WHERE rollout_id = $1 ORDER BY seq",
            rollout_id,
        )
        return [int(row["seq"]) for row in rows]

    async def resolved(self) -> Counter[str]:
        """Which version each of USERS gets now, from the in-memory view."""
        answers = await asyncio.gather(
            *(
                self.rpc().ResolveVersion(
                    pb.ResolveVersionRequest(tenant_id=self.tenant, user_id=user, plugin=PLUGIN),
                    timeout=10,
                )
                for user in USERS
            )
        )
        return Counter(a.version for a in answers)

    async def events(self, rollout_id: str) -> list[Envelope]:
        """Every rollout.* event of this rollout on the stream, once the outbox is drained."""

        async def drained() -> bool:
            left = await self.db.fetchval(
                "SELECT count(*) FROM rollout.outbox WHERE published_at IS NULL"
            )
            return bool(left == 0)

        await eventually(drained, within=15)
        await self.watch.poll()
        await asyncio.sleep(0.3)  # a publish acked just before the drain is fetched too
        await self.watch.poll()
        mine = [Envelope.decode(m.headers, m.data) for m in self.watch.seen]
        return [e for e in mine if getattr(e.payload, "rollout_id", "") == rollout_id]

    @contextlib.asynccontextmanager
    async def stalled_on(self, table: str) -> AsyncIterator[None]:
        """Holds an EXCLUSIVE lock on `table` until the block ends; the service's writes wait."""
        lock = await asyncpg.connect(self.infra.admin_url)
        try:
            async with lock.transaction():
                await lock.execute(f"LOCK TABLE rollout.{table} IN EXCLUSIVE MODE")
                yield
        finally:
            await lock.close()

    @contextlib.asynccontextmanager
    async def relay_held(self) -> AsyncIterator[None]:
        """Holds the outbox relay's lock until the block ends: the service's relay finds it
        taken, as if another replica's relay were busy, and publishes nothing meanwhile."""
        holder = await asyncpg.connect(self.infra.admin_url)
        try:
            await holder.execute("SELECT pg_advisory_lock(hashtext($1))", OUTBOX_RELAY_LOCK)
            yield
        finally:
            await holder.close()  # ends the session, and with it the lock

    async def outbox_pending(self) -> float:
        """The relay's own count of unpublished outbox rows, from the process's /metrics.

        The relay sets it after each pass it makes, so a count above 0 means a
        pass ran and left that many rows unpublished.
        """
        async with httpx.AsyncClient() as http:
            page = await http.get(f"http://127.0.0.1:{self.process.metrics_port}/metrics")
        for family in text_string_to_metric_families(page.text):
            for sample in family.samples:
                if sample.name == "portico_outbox_pending" and sample.labels == {
                    "service": "rollout"
                }:
                    return sample.value
        return 0.0

    async def wait_blocked_on(self, table: str) -> None:
        """Until a transaction of the service waits for the lock on `table`."""

        async def blocked() -> bool:
            waiting = await self.db.fetchval(
                """SELECT count(*) FROM pg_stat_activity
                   WHERE datname = current_database() AND wait_event_type = 'Lock'
                     AND query ILIKE $1""",
                f"%{table}%",
            )
            return bool(waiting)

        await eventually(blocked, within=20)


@pytest.fixture
async def rollouts(infra: Infra, tmp_path: Path) -> AsyncIterator[Rollouts]:
    """A running rollout process of a new tenant, with a watch on the stream from its start."""
    nc = await nats.connect(infra.nats_url)
    db = await asyncpg.connect(infra.admin_url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(
            subject_for("rollout.>"),
            durable=unique("kill9_watch"),
            stream=STREAM,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.NEW),
        )
        found = Rollouts(infra, tmp_path, db, js, Watch(sub))
        await found.start()
        try:
            yield found
        finally:
            await found.close_channel()
            await asyncio.to_thread(found.process.stop)
    finally:
        await db.close()
        await nc.close()


def phase(percent: int, bake_seconds: int) -> pb.PhaseSpec:
    return pb.PhaseSpec(percent=percent, bake_seconds=bake_seconds, criteria=NO_SAMPLES)


def canary_plan(middle_bake: int = 1) -> list[pb.PhaseSpec]:
    return [phase(10, 1), phase(50, middle_bake), phase(100, 1)]


async def assert_completed_once(r: Rollouts, rollout_id: str, phases: int) -> None:
    """Each step once: the events on the stream, the decisions stored, the view."""
    final = await r.reaches(rollout_id, COMPLETED)
    assert final.percent == 100
    decisions = await r.decisions(rollout_id)
    assert await r.decision_seqs(rollout_id) == list(range(1, phases + 1))
    assert {d.kind for d in decisions} == {pb.DECISION_KIND_ADVANCE}
    assert [d.to_percent for d in decisions] == [*(p.percent for p in final.plan[1:]), 100]
    events = await r.events(rollout_id)
    counted = Counter(e.type for e in events)
    assert counted == Counter(
        {
            "rollout.requested": 1,
            "rollout.started": 1,
            "rollout.phase.advanced": phases - 1,
            "rollout.decision.recorded": phases,
            "rollout.completed": 1,
        }
    ), counted
    advanced = [e.payload.phase_index for e in events if e.type == "rollout.phase.advanced"]  # type: ignore[attr-defined]
    assert advanced == list(range(1, phases))
    recorded = [e.payload.decision_id for e in events if e.type == "rollout.decision.recorded"]  # type: ignore[attr-defined]
    assert recorded == [d.decision_id for d in decisions]
    assert len({e.id for e in events}) == len(events)
    assert await r.resolved() == Counter({final.version: len(USERS)})


async def test_kill_9_after_the_request_resumes_at_the_exact_step_with_no_duplicate_event(
    rollouts: Rollouts,
) -> None:
    """Killed once RequestRollout answered: the verdicts wait on the stream; it completes once."""
    r = rollouts
    rollout_id = await r.request("2.3.0", canary_plan())
    await r.kill()
    await r.checks_pass("2.3.0")
    await r.start()
    await assert_completed_once(r, rollout_id, phases=3)


async def test_kill_9_mid_phase_resumes_at_the_exact_step_with_no_duplicate_event(
    rollouts: Rollouts,
) -> None:
    """Killed during the 50% phase's bake: the same phase, the same bake start, no skip."""
    r = rollouts
    rollout_id = await r.request("2.3.0", canary_plan(middle_bake=6))
    await r.checks_pass("2.3.0")
    before = await r.reaches(rollout_id, IN_PROGRESS, percent=50)
    await r.restart()
    after = await r.get(rollout_id)
    if (after.state, after.phase_index) == (IN_PROGRESS, before.phase_index):
        # Still baking after the restart: the very same phase, started when it was.
        assert (after.phase_index, after.phase_started_at) == (
            before.phase_index,
            before.phase_started_at,
        )
        on_canary = (await r.resolved())["2.3.0"]
        assert 0 < on_canary < len(USERS), "the view rebuilt on start serves the 50% phase"
    await assert_completed_once(r, rollout_id, phases=3)
    decisions = await r.decisions(rollout_id)
    # The 50% phase left once, after its whole bake counted from its start before the kill.
    assert (decisions[1].phase_index, decisions[1].percent) == (1, 50)
    left_at = decisions[1].at.ToDatetime()
    assert (left_at - before.phase_started_at.ToDatetime()).total_seconds() >= 6


async def test_kill_9_during_a_promotion_decision_resumes_at_the_exact_step_with_no_duplicate_event(
    rollouts: Rollouts,
) -> None:
    """Killed with the first promotion half-written: it is decided again, once."""
    r = rollouts
    rollout_id = await r.request("2.3.0", canary_plan())
    async with r.stalled_on("rollout_decisions"):
        await r.checks_pass("2.3.0")
        await r.reaches(rollout_id, IN_PROGRESS, percent=10)
        # The scheduler has saved the advanced row and waits to store its decision.
        await r.wait_blocked_on("rollout_decisions")
        await r.kill()
    # Nothing of the half-made decision is left: still the first phase.
    await r.start()
    await assert_completed_once(r, rollout_id, phases=3)


async def test_kill_9_during_a_rollback_saga_rolls_back_exactly_once(rollouts: Rollouts) -> None:
    """Killed inside the rollback's transaction: the violation is redelivered, rolled back once."""
    r = rollouts
    stable_id = await r.request("2.2.0", [phase(100, 1)])
    await r.checks_pass("2.2.0")
    await r.reaches(stable_id, COMPLETED)
    rollout_id = await r.request("2.3.0", [phase(50, 3600), phase(100, 1)])
    await r.checks_pass("2.3.0")
    await r.reaches(rollout_id, IN_PROGRESS, percent=50)
    violation = ev.SloViolated(
        tenant_id=r.tenant,
        slo_id="slo-kill9",
        plugin=PLUGIN,
        version="2.3.0",
        rule="burn rate",
    )
    async with r.stalled_on("rollback_steps"):
        await r.publish(violation)
        # Traffic to stable and the decision are written; the saga's steps wait.
        await r.wait_blocked_on("rollback_steps")
        await r.kill()
    assert (await _row_state(r, rollout_id)) == "IN_PROGRESS", "the killed transaction left nothing"
    await r.start()
    final = await r.reaches(rollout_id, ROLLED_BACK)
    assert final.percent == 0
    decisions = await r.decisions(rollout_id)
    assert [d.kind for d in decisions] == [pb.DECISION_KIND_ROLLBACK]
    assert await r.decision_seqs(rollout_id) == [1]
    # The steps after traffic run on the saga runner, each once, after the rollback.
    steps: list[asyncpg.Record] = []

    async def saga_done() -> bool:
        steps[:] = await r.db.fetch(
            "SELECT step, state FROM rollout.rollback_steps WHERE rollout_id = $1", rollout_id
        )
        return bool(steps) and {s["state"] for s in steps} == {"done"}

    await eventually(saga_done, within=20)
    assert len({s["step"] for s in steps}) == len(steps)
    events = await r.events(rollout_id)
    counted = Counter(e.type for e in events)
    assert counted == Counter(
        {
            "rollout.requested": 1,
            "rollout.started": 1,
            "rollout.decision.recorded": 1,
            "rollout.rolled_back": 1,
        }
    ), counted
    assert await r.resolved() == Counter({"2.2.0": len(USERS)})


async def test_kill_9_between_the_rollback_commit_and_its_publish_publishes_it_once(
    rollouts: Rollouts,
) -> None:
    """Killed once the rollback committed but before the relay published rollout.rolled_back:
    the event waits in the outbox, goes out once after the restart, and the state agrees."""
    r = rollouts
    stable_id = await r.request("2.2.0", [phase(100, 1)])
    await r.checks_pass("2.2.0")
    await r.reaches(stable_id, COMPLETED)
    rollout_id = await r.request("2.3.0", [phase(50, 3600), phase(100, 1)])
    await r.checks_pass("2.3.0")
    await r.reaches(rollout_id, IN_PROGRESS, percent=50)
    # Everything before the rollback is out, so what waits below is the rollback's alone.
    assert [e.type for e in await r.events(rollout_id)] == [
        "rollout.requested",
        "rollout.started",
    ]
    violation = ev.SloViolated(
        tenant_id=r.tenant,
        slo_id="slo-kill9",
        plugin=PLUGIN,
        version="2.3.0",
        rule="burn rate",
    )
    async with r.relay_held():
        await r.publish(violation)

        async def committed() -> bool:
            return await _row_state(r, rollout_id) == "ROLLED_BACK"

        await eventually(committed, within=20)
        waiting = await r.db.fetch(
            """SELECT event_type FROM rollout.outbox
                WHERE tenant_id = $1 AND published_at IS NULL ORDER BY seq""",
            r.tenant,
        )
        assert [w["event_type"] for w in waiting] == [
            "rollout.decision.recorded",
            "rollout.rolled_back",
        ]

        async def relay_passed_them_by() -> bool:
            return await r.outbox_pending() == len(waiting)

        # The relay has run since the commit (NOTIFY and poll) and left both rows there.
        await eventually(relay_passed_them_by, within=20)
        await r.kill()
    # Killed with the rollback committed and its events unpublished: none went out.
    await r.watch.poll()
    assert not [
        m for m in r.watch.seen if (m.headers or {}).get("ce-type") == "rollout.rolled_back"
    ]
    await r.start()
    final = await r.reaches(rollout_id, ROLLED_BACK)
    assert (final.percent, final.stable_version) == (0, "2.2.0")
    decisions = await r.decisions(rollout_id)
    assert [d.kind for d in decisions] == [pb.DECISION_KIND_ROLLBACK]
    assert await r.decision_seqs(rollout_id) == [1]
    events = await r.events(rollout_id)
    counted = Counter(e.type for e in events)
    assert counted == Counter(
        {
            "rollout.requested": 1,
            "rollout.started": 1,
            "rollout.decision.recorded": 1,
            "rollout.rolled_back": 1,
        }
    ), counted
    [rolled_back] = [e for e in events if e.type == "rollout.rolled_back"]
    assert isinstance(rolled_back.payload, ev.RolloutRolledBack)
    assert rolled_back.payload.stable_version == "2.2.0"
    # The row the killed process left is the one published: the rollback was not decided again.
    [row] = await r.db.fetch(
        """SELECT event_id, published_at FROM rollout.outbox
            WHERE tenant_id = $1 AND event_type = 'rollout.rolled_back'""",
        r.tenant,
    )
    assert (str(row["event_id"]), row["published_at"] is not None) == (rolled_back.id, True)
    # The saga goes on after the restart: each step once, all done.
    steps: list[asyncpg.Record] = []

    async def saga_done() -> bool:
        steps[:] = await r.db.fetch(
            "SELECT step, state FROM rollout.rollback_steps WHERE rollout_id = $1", rollout_id
        )
        return bool(steps) and {s["state"] for s in steps} == {"done"}

    await eventually(saga_done, within=20)
    assert sorted(s["step"] for s in steps) == ["find_dependents", "traffic_to_stable"]
    assert await r.resolved() == Counter({"2.2.0": len(USERS)})


async def _row_state(r: Rollouts, rollout_id: str) -> str:
    state = await r.db.fetchval(
        "SELECT state FROM rollout.rollouts WHERE rollout_id = $1", rollout_id
    )
    return str(state)


async def test_two_replicas_never_double_advance_and_one_killed_leaves_the_rest_to_the_other(
    rollouts: Rollouts, tmp_path: Path
) -> None:
    """Two processes' schedulers race for every step; one is killed at 50%; each step once."""
    r = rollouts
    other = ServiceProcess("portico_rollout", r.infra.rollout_env, tmp_path / "replica-b")
    await asyncio.to_thread(other.start)
    try:
        rollout_id = await r.request("2.3.0", canary_plan(middle_bake=2))
        await r.checks_pass("2.3.0")
        await r.reaches(rollout_id, IN_PROGRESS, percent=50)
        await r.kill()
        await r.adopt(other)
        await assert_completed_once(r, rollout_id, phases=3)
    finally:
        await asyncio.to_thread(other.stop)
