"""The rollout service in-process on real JetStream and PostgreSQL, driven by events and gRPC."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import grpc
import pytest

from portico.events.v1 import events_pb2 as ev
from portico.rollout.v1 import rollout_pb2 as pb
from portico_common.events.catalog import STREAM
from portico_common.metrics import EVENTS_CONSUMED, ROLLOUT_REACTION
from portico_common.tracing import configure_tracing
from portico_rollout.entrypoints.events import SLO_DURABLE
from portico_rollout.testing.driver import RolloutDriver

pytestmark = pytest.mark.integration

PLUGIN = "@acme/plugin-cost-insights"
NewTenant = Callable[[], str]


def verified(tenant: str, version: str = "2.3.0") -> ev.ArtifactVerified:
    return ev.ArtifactVerified(tenant_id=tenant, plugin=PLUGIN, version=version, publisher="acme")


def compatible(tenant: str, version: str = "2.3.0") -> ev.CompatChecked:
    return ev.CompatChecked(tenant_id=tenant, plugin=PLUGIN, version=version, compatible=True)


def reactions_observed() -> float:
    return next(
        s.value
        for metric in ROLLOUT_REACTION.collect()
        for s in metric.samples
        if s.name.endswith("_count")
    )


def consumed(outcome: str) -> float:
    return float(EVENTS_CONSUMED.labels("rollout", "slo.violated", outcome)._value.get())


async def start_canary(svc: RolloutDriver, tenant: str, bake_seconds: int = 600) -> pb.Rollout:
    """A canary of 2.3.0 in its first phase, serving good outcomes steadily."""
    svc.slo.steady(tenant, PLUGIN, "2.3.0")
    rollout = await svc.request(tenant, PLUGIN, "2.3.0", bake_seconds=bake_seconds)
    await svc.send(verified(tenant), tenant=tenant)
    await svc.send(compatible(tenant), tenant=tenant)

    async def in_progress() -> bool:
        return (await svc.get(tenant, rollout.rollout_id)).state == pb.ROLLOUT_STATE_IN_PROGRESS

    await svc.eventually(in_progress)
    return await svc.get(tenant, rollout.rollout_id)


async def test_verified_and_checked_start_the_rollout(
    rollout_service: RolloutDriver, new_tenant: NewTenant
) -> None:
    """RequestRollout, then artifact.verified and compat.checked: rollout.started is published."""
    svc, tenant = rollout_service, new_tenant()
    rollout = await svc.request(tenant, PLUGIN, "2.3.0")
    assert rollout.state == pb.ROLLOUT_STATE_AWAITING_CHECKS
    await svc.send(verified(tenant), tenant=tenant)
    await svc.send(compatible(tenant), tenant=tenant)
    [started] = await svc.watch.wait_for("rollout.started")
    assert (started.tenant_id, started.subject, started.source) == (
        tenant,
        rollout.rollout_id,
        "portico/rollout",
    )
    assert started.payload == ev.RolloutStarted(
        tenant_id=tenant,
        rollout_id=rollout.rollout_id,
        plugin=PLUGIN,
        version="2.3.0",
        phases=[10, 25, 50, 100],
        percent=10,
        strategy="canary",
    )
    stored = await svc.get(tenant, rollout.rollout_id)
    assert (stored.state, stored.percent) == (pb.ROLLOUT_STATE_IN_PROGRESS, 10)


async def test_verdicts_before_the_request_start_it_at_once(
    rollout_service: RolloutDriver, new_tenant: NewTenant
) -> None:
    """Verdict events consumed before RequestRollout are kept, so the request starts the canary."""
    svc, tenant = rollout_service, new_tenant()
    await svc.send(compatible(tenant), tenant=tenant)
    await svc.send(verified(tenant), tenant=tenant)

    async def both_recorded() -> bool:
        rows = await svc.rows("SELECT 1 FROM check_verdicts WHERE tenant_id = $1", tenant)
        return len(rows) == 2

    await svc.eventually(both_recorded)
    rollout = await svc.request(tenant, PLUGIN, "2.3.0")
    assert rollout.state == pb.ROLLOUT_STATE_IN_PROGRESS
    await svc.watch.wait_for("rollout.started")


async def test_rejection_refuses_with_reasons(
    rollout_service: RolloutDriver, new_tenant: NewTenant
) -> None:
    """artifact.rejected refuses the rollout and publishes rollout.refused with the reasons."""
    svc, tenant = rollout_service, new_tenant()
    rollout = await svc.request(tenant, PLUGIN, "2.3.0")
    rejected = ev.ArtifactRejected(
        tenant_id=tenant, plugin=PLUGIN, version="2.3.0", reasons=["sha512 mismatch"]
    )
    await svc.send(rejected, tenant=tenant)
    [refused] = await svc.watch.wait_for("rollout.refused")
    assert list(refused.payload.reasons) == ["security: sha512 mismatch"]  # type: ignore[attr-defined]
    stored = await svc.get(tenant, rollout.rollout_id)
    assert stored.state == pb.ROLLOUT_STATE_REFUSED
    assert "sha512 mismatch" in stored.reason


async def test_manual_clock_drives_the_canary_to_completion(
    rollout_service: RolloutDriver, new_tenant: NewTenant
) -> None:
    """Each bake passes on the ManualClock and the scheduler walks 25, 50, 100, then completes.

    Every event the scheduler emits carries a traceparent (the process's main
    configures tracing; in this process the test does).
    """
    configure_tracing("portico-rollout-tests")
    svc, tenant = rollout_service, new_tenant()
    rollout = await start_canary(svc, tenant, bake_seconds=3600)
    svc.clock.advance(seconds=3599)
    for count, percent in enumerate((25, 50, 100), start=1):
        svc.clock.advance(seconds=1)
        advanced = await svc.watch.wait_for("rollout.phase.advanced", count)
        assert advanced[-1].payload.percent == percent  # type: ignore[attr-defined]
        svc.clock.advance(seconds=3599)
    svc.clock.advance(seconds=1)
    [completed] = await svc.watch.wait_for("rollout.completed")
    assert (await svc.get(tenant, rollout.rollout_id)).state == pb.ROLLOUT_STATE_COMPLETED
    # The scheduler's events carry a trace: each rollout is judged in a span of its own.
    scheduled = [*svc.watch.of("rollout.phase.advanced"), completed]
    scheduled += svc.watch.of("rollout.decision.recorded")
    assert len(scheduled) == 3 + 1 + 4
    assert all(e.trace.get("traceparent") for e in scheduled)
    decisions = await svc.stub.ListRolloutDecisions(
        pb.ListRolloutDecisionsRequest(tenant_id=tenant, rollout_id=rollout.rollout_id),
        timeout=10,
    )
    assert [(d.kind, d.source) for d in decisions.decisions] == [
        (pb.DECISION_KIND_ADVANCE, "criteria")
    ] * 4
    await svc.eventually(lambda: svc.resolves_at(tenant, PLUGIN, 0, rollout_id=""))
    [stable] = await svc.rows(
        "SELECT version, rollout_id FROM stable_versions WHERE tenant_id = $1", tenant
    )
    assert (stable["version"], stable["rollout_id"]) == ("2.3.0", rollout.rollout_id)
    resolved = await svc.stub.ResolveVersion(
        pb.ResolveVersionRequest(tenant_id=tenant, user_id="anyone", plugin=PLUGIN), timeout=10
    )
    # No canary any more: everyone is on the new stable version.
    assert (resolved.version, resolved.stable_version, resolved.rollout_id) == (
        "2.3.0",
        "2.3.0",
        "",
    )
    assert not resolved.in_canary


async def test_same_violation_delivered_twice_rolls_back_once(
    rollout_service: RolloutDriver, new_tenant: NewTenant
) -> None:
    """One slo.violated sent as two JetStream messages: one rollback, one rollout.rolled_back."""
    svc, tenant = rollout_service, new_tenant()
    rollout = await start_canary(svc, tenant)
    reactions_before, duplicates_before = reactions_observed(), consumed("duplicate")
    detected = svc.clock.now()
    violation = ev.SloViolated(
        tenant_id=tenant, slo_id="slo-7", plugin=PLUGIN, version="2.3.0", rule="fast burn"
    )
    violation.detected_at.FromDatetime(detected)
    svc.clock.advance(seconds=0.05)
    envelope = await svc.send(violation, tenant=tenant)
    await svc.resend(envelope, msg_id=f"{envelope.id}-again")

    [rolled_back] = await svc.watch.wait_for("rollout.rolled_back")
    await svc.eventually(lambda: consumed("duplicate") >= duplicates_before + 1)
    info = await svc.js.consumer_info(STREAM, SLO_DURABLE)
    assert info.num_ack_pending == 0
    assert info.num_pending == 0
    await svc.watch.poll()
    assert len(svc.watch.of("rollout.rolled_back")) == 1
    payload = rolled_back.payload
    assert isinstance(payload, ev.RolloutRolledBack)
    assert payload.rollout_id == rollout.rollout_id
    assert payload.cause_event_id == envelope.id
    assert payload.violation_detected_at.ToDatetime(tzinfo=detected.tzinfo) == detected
    assert reactions_observed() == reactions_before + 1

    async def steps() -> list[tuple[str, str]]:
        rows = await svc.rows(
            "SELECT step, state FROM rollback_steps WHERE rollout_id = $1 ORDER BY ordinal",
            rollout.rollout_id,
        )
        return [(r["step"], r["state"]) for r in rows]

    # Traffic went back with the decision; the saga runner then asked for dependents.
    await svc.eventually(lambda: steps_done(steps))
    assert await steps() == [("traffic_to_stable", "done"), ("find_dependents", "done")]
    [(_, going, _)] = svc.graph.asked
    assert (going.plugin, going.version) == (PLUGIN, "2.3.0")
    stored = await svc.get(tenant, rollout.rollout_id)
    assert (stored.state, stored.percent) == (pb.ROLLOUT_STATE_ROLLED_BACK, 0)
    inbox = await svc.rows(
        "SELECT event_id FROM inbox WHERE consumer = $1 AND tenant_id = $2", SLO_DURABLE, tenant
    )
    assert [r["event_id"] for r in inbox] == [envelope.id]


async def steps_done(steps: Callable[[], Awaitable[list[tuple[str, str]]]]) -> bool:
    return all(state == "done" for _, state in await steps())


async def test_rollback_is_not_queued_behind_check_events(
    rollout_service: RolloutDriver, new_tenant: NewTenant
) -> None:
    """slo.violated and slo.breaker.opened have their own consumer: no backlog delays them."""
    svc, tenant = rollout_service, new_tenant()
    await start_canary(svc, tenant)
    slo = await svc.js.consumer_info(STREAM, SLO_DURABLE)
    assert slo.config.filter_subjects == ["portico.slo.breaker.opened", "portico.slo.violated"]
    checks = await svc.js.consumer_info(STREAM, "rollout-checks")
    assert "portico.slo.violated" not in (checks.config.filter_subjects or [])
    assert "portico.slo.breaker.opened" not in (checks.config.filter_subjects or [])


async def test_rpc_errors_map_to_status_codes(
    rollout_service: RolloutDriver, new_tenant: NewTenant
) -> None:
    """Domain errors reach the caller as ALREADY_EXISTS, INVALID_ARGUMENT and NOT_FOUND."""
    svc, tenant = rollout_service, new_tenant()
    await svc.request(tenant, PLUGIN, "2.3.0")
    cases: list[tuple[Callable[[], Awaitable[object]], grpc.StatusCode]] = [
        (lambda: svc.request(tenant, PLUGIN, "2.4.0"), grpc.StatusCode.ALREADY_EXISTS),
        (lambda: svc.request(tenant, "Not A Name", "1.0.0"), grpc.StatusCode.INVALID_ARGUMENT),
        (
            lambda: svc.request(tenant, "other", "1.0.0", phases=[50, 10]),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (lambda: svc.request("*", PLUGIN, "1.0.0"), grpc.StatusCode.INVALID_ARGUMENT),
        (lambda: svc.get(tenant, "no-such-rollout"), grpc.StatusCode.NOT_FOUND),
    ]
    for call, code in cases:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call()
        assert caught.value.code() == code


async def test_idempotency_key_replays_the_first_answer(
    rollout_service: RolloutDriver, new_tenant: NewTenant
) -> None:
    """RequestRollout retried with the same idempotency key returns the same rollout again."""
    svc, tenant = rollout_service, new_tenant()
    request = pb.RequestRolloutRequest(tenant_id=tenant, plugin=PLUGIN, version="2.3.0")
    metadata = (("idempotency-key", "req-1"),)
    first = await svc.stub.RequestRollout(request, metadata=metadata, timeout=10)
    second = await svc.stub.RequestRollout(request, metadata=metadata, timeout=10)
    assert second.rollout.rollout_id == first.rollout.rollout_id
    assert len(await svc.rows("SELECT 1 FROM rollouts WHERE tenant_id = $1", tenant)) == 1


async def test_resolve_is_sticky_over_grpc(
    rollout_service: RolloutDriver, new_tenant: NewTenant
) -> None:
    """A user in the 10% cohort still gets the new version at 25%, with the same bucket."""
    svc, tenant = rollout_service, new_tenant()
    await start_canary(svc, tenant, bake_seconds=60)
    users = [f"u{n}" for n in range(200)]

    async def cohort() -> dict[str, pb.ResolveVersionResponse]:
        answers = {}
        for user in users:
            answers[user] = await svc.stub.ResolveVersion(
                pb.ResolveVersionRequest(tenant_id=tenant, user_id=user, plugin=PLUGIN), timeout=10
            )
        return answers

    # The view answering resolves follows the events within milliseconds.
    await svc.eventually(lambda: svc.resolves_at(tenant, PLUGIN, 10))
    at_10 = await cohort()
    svc.clock.advance(timedelta(seconds=60).total_seconds())
    await svc.watch.wait_for("rollout.phase.advanced")
    await svc.eventually(lambda: svc.resolves_at(tenant, PLUGIN, 25))
    at_25 = await cohort()
    in_10 = {u for u, a in at_10.items() if a.in_canary}
    in_25 = {u for u, a in at_25.items() if a.in_canary}
    assert in_10 < in_25
    assert all(at_25[u].version == "2.3.0" and at_25[u].bucket == at_10[u].bucket for u in in_10)
    assert {a.percent for a in at_25.values()} == {25}


async def test_poisoned_tenant_header_is_dead_lettered(
    rollout_service: RolloutDriver, new_tenant: NewTenant
) -> None:
    """slo.violated with the platform scope "*" as its tenant changes nothing and is parked."""
    svc, tenant = rollout_service, new_tenant()
    rollout = await start_canary(svc, tenant)
    violation = ev.SloViolated(slo_id="s", plugin=PLUGIN, version="2.3.0", rule="r")
    dead = await svc.js.pull_subscribe("portico-dlq.rollout-slo.>", durable="dlq-watch")
    await svc.send(violation, tenant="*")

    async def parked() -> bool:
        try:
            return bool(await dead.fetch(1, timeout=0.2))
        except Exception:  # noqa: BLE001 - a fetch timeout just means "not yet"
            return False

    await svc.eventually(parked, within=20)
    assert (await svc.get(tenant, rollout.rollout_id)).state == pb.ROLLOUT_STATE_IN_PROGRESS
    assert await svc.rows("SELECT 1 FROM rollback_steps") == []


async def test_a_control_retried_with_its_idempotency_key_is_answered_once(
    rollout_service: RolloutDriver, new_tenant: NewTenant
) -> None:
    """AbortRollout sent twice with one key: the first answer again, one audit record.

    Without the key, aborting a rolled-back rollout is refused.
    """
    svc, tenant = rollout_service, new_tenant()
    rollout = await start_canary(svc, tenant)
    request = pb.AbortRolloutRequest(tenant_id=tenant, rollout_id=rollout.rollout_id, reason="r")
    metadata = (("idempotency-key", "abort-1"),)
    first = await svc.stub.AbortRollout(request, metadata=metadata, timeout=10)
    again = await svc.stub.AbortRollout(request, metadata=metadata, timeout=10)
    assert again == first
    assert first.rollout.state == pb.ROLLOUT_STATE_ROLLED_BACK
    audit = await svc.stub.ListRolloutAudit(
        pb.ListRolloutAuditRequest(tenant_id=tenant), timeout=10
    )
    assert [r.action for r in audit.records] == ["abort"]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await svc.stub.AbortRollout(request, timeout=10)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    await svc.watch.wait_for("rollout.rolled_back")
    await svc.watch.poll()
    assert len(svc.watch.of("rollout.rolled_back")) == 1
