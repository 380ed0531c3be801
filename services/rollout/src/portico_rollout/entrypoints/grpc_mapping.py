"""Protobuf <-> rollout domain: requests in (strategy, plan, criteria, gates), rollouts out."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from portico.rollout.v1 import rollout_pb2 as pb
from portico_common.approvals import DeadlineAction
from portico_common.timestamps import optional_timestamp, to_timestamp
from portico_rollout.app.handlers import RolloutSpec
from portico_rollout.app.queries import Health
from portico_rollout.domain.audit import AuditRecord
from portico_rollout.domain.criteria import DEFAULT_MAX_ERROR_RATE, DEFAULT_MIN_SAMPLES, Criteria
from portico_rollout.domain.decisions import Decision, DecisionKind
from portico_rollout.domain.judge.classifier import Direction, EffectSize, NanStrategy
from portico_rollout.domain.judge.config import DEFAULT_METRICS, JudgmentConfig, MetricConfig
from portico_rollout.domain.plan import GateRule, PhaseSpec, Strategy
from portico_rollout.domain.replay import ReplayResult
from portico_rollout.domain.rollout import Rollout
from portico_rollout.errors import InvalidCriteriaError

STRATEGIES = {
    pb.ROLLOUT_STRATEGY_UNSPECIFIED: Strategy.CANARY,
    pb.ROLLOUT_STRATEGY_CANARY: Strategy.CANARY,
    pb.ROLLOUT_STRATEGY_BLUE_GREEN: Strategy.BLUE_GREEN,
    pb.ROLLOUT_STRATEGY_ROLLING: Strategy.ROLLING,
    pb.ROLLOUT_STRATEGY_INSTANT: Strategy.INSTANT,
}
_STRATEGY_OUT = {
    Strategy.CANARY: pb.ROLLOUT_STRATEGY_CANARY,
    Strategy.BLUE_GREEN: pb.ROLLOUT_STRATEGY_BLUE_GREEN,
    Strategy.ROLLING: pb.ROLLOUT_STRATEGY_ROLLING,
    Strategy.INSTANT: pb.ROLLOUT_STRATEGY_INSTANT,
}
_DEADLINES = {
    pb.GATE_DEADLINE_ACTION_UNSPECIFIED: DeadlineAction.EXPIRE,
    pb.GATE_DEADLINE_ACTION_EXPIRE: DeadlineAction.EXPIRE,
    pb.GATE_DEADLINE_ACTION_APPROVE: DeadlineAction.APPROVE,
    pb.GATE_DEADLINE_ACTION_ESCALATE: DeadlineAction.ESCALATE,
}
_DEADLINES_OUT = {
    DeadlineAction.EXPIRE: pb.GATE_DEADLINE_ACTION_EXPIRE,
    DeadlineAction.APPROVE: pb.GATE_DEADLINE_ACTION_APPROVE,
    DeadlineAction.ESCALATE: pb.GATE_DEADLINE_ACTION_ESCALATE,
}
_KINDS = {
    DecisionKind.ADVANCE: pb.DECISION_KIND_ADVANCE,
    DecisionKind.HOLD: pb.DECISION_KIND_HOLD,
    DecisionKind.FAIL: pb.DECISION_KIND_FAIL,
    DecisionKind.ROLLBACK: pb.DECISION_KIND_ROLLBACK,
}
DAY = 24 * 3600


def _enum(kind: type[Any], value: str, field: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(v.value for v in kind)
        raise InvalidCriteriaError(field, f"{value!r} is not one of {allowed}") from None


# -- in ------------------------------------------------------------------------------


def judgment_from_proto(message: pb.JudgmentConfig) -> JudgmentConfig:
    metrics = tuple(
        MetricConfig(
            name=m.name,
            groups=tuple(m.groups),
            direction=_enum(Direction, m.direction or "increase", "judgment.direction"),
            nan_strategy=_enum(NanStrategy, m.nan_strategy or "remove", "judgment.nan_strategy"),
            critical=m.critical,
            must_have_data=m.must_have_data,
            muted=m.muted,
            measure=_enum(
                EffectSize, m.effect_size_measure or "meanRatio", "judgment.effect_size_measure"
            ),
            allowed_increase=m.allowed_increase,
            allowed_decrease=m.allowed_decrease,
            critical_increase=m.critical_increase,
            critical_decrease=m.critical_decrease,
        )
        for m in message.metrics
    )
    return JudgmentConfig(
        metrics=metrics or DEFAULT_METRICS,
        group_weights=tuple(sorted(message.group_weights.items())),
        confidence=message.confidence if message.HasField("confidence") else 0.98,
        tolerance=message.tolerance if message.HasField("tolerance") else 0.25,
        pass_threshold=message.pass_threshold if message.HasField("pass_threshold") else 95.0,
        marginal_threshold=(
            message.marginal_threshold if message.HasField("marginal_threshold") else 75.0
        ),
        interval_seconds=message.interval_seconds,
    )


def criteria_from_proto(message: pb.SuccessCriteria) -> Criteria:
    return Criteria(
        min_samples=message.min_samples if message.HasField("min_samples") else DEFAULT_MIN_SAMPLES,
        max_error_rate=(
            message.max_error_rate if message.HasField("max_error_rate") else DEFAULT_MAX_ERROR_RATE
        ),
        max_p95_latency_ms=(
            message.max_p95_latency_ms if message.HasField("max_p95_latency_ms") else None
        ),
        max_p99_latency_ms=(
            message.max_p99_latency_ms if message.HasField("max_p99_latency_ms") else None
        ),
        max_burn_rate=message.max_burn_rate if message.HasField("max_burn_rate") else None,
        judgment=judgment_from_proto(message.judgment) if message.HasField("judgment") else None,
    )


def gate_from_proto(message: pb.ApprovalGate) -> GateRule:
    return GateRule(
        required=message.required or 1,
        roles=tuple(message.roles),
        timeout_seconds=message.timeout_seconds or DAY,
        on_deadline=_DEADLINES[message.on_deadline],
        escalation_roles=tuple(message.escalation_roles),
    )


def spec_from_request(request: pb.RequestRolloutRequest) -> RolloutSpec:
    criteria = criteria_from_proto(request.criteria) if request.HasField("criteria") else Criteria()
    plan = tuple(
        PhaseSpec(
            percent=p.percent,
            bake_seconds=p.bake_seconds,
            criteria=criteria_from_proto(p.criteria) if p.HasField("criteria") else criteria,
            approval=gate_from_proto(p.approval) if p.HasField("approval") else None,
        )
        for p in request.plan
    )
    return RolloutSpec(
        strategy=STRATEGIES[request.strategy],
        phases=tuple(request.phases),
        plan=plan,
        criteria=criteria,
        bake_seconds=request.bake_seconds,
        hold_timeout_seconds=request.hold_timeout_seconds,
        slo_template=request.slo_template,
        preview_percent=request.preview_percent,
        watch_seconds=request.watch_seconds,
        batches=request.batches,
        rollback_step_seconds=request.rollback_step_seconds,
    )


# -- out -----------------------------------------------------------------------------


def judgment_to_proto(config: JudgmentConfig) -> pb.JudgmentConfig:
    return pb.JudgmentConfig(
        metrics=[
            pb.JudgmentMetric(
                name=m.name,
                groups=list(m.groups),
                direction=m.direction.value,
                nan_strategy=m.nan_strategy.value,
                critical=m.critical,
                must_have_data=m.must_have_data,
                muted=m.muted,
                effect_size_measure=m.measure.value,
                allowed_increase=m.allowed_increase,
                allowed_decrease=m.allowed_decrease,
                critical_increase=m.critical_increase,
                critical_decrease=m.critical_decrease,
            )
            for m in config.metrics
        ],
        group_weights=config.weights,
        confidence=config.confidence,
        tolerance=config.tolerance,
        pass_threshold=config.pass_threshold,
        marginal_threshold=config.marginal_threshold,
        interval_seconds=config.interval_seconds,
    )


def criteria_to_proto(criteria: Criteria) -> pb.SuccessCriteria:
    message = pb.SuccessCriteria(min_samples=criteria.min_samples)
    if criteria.max_error_rate is not None:
        message.max_error_rate = criteria.max_error_rate
    if criteria.max_p95_latency_ms is not None:
        message.max_p95_latency_ms = criteria.max_p95_latency_ms
    if criteria.max_p99_latency_ms is not None:
        message.max_p99_latency_ms = criteria.max_p99_latency_ms
    if criteria.max_burn_rate is not None:
        message.max_burn_rate = criteria.max_burn_rate
    if criteria.judgment is not None:
        message.judgment.CopyFrom(judgment_to_proto(criteria.judgment))
    return message


def phase_to_proto(spec: PhaseSpec) -> pb.PhaseSpec:
    message = pb.PhaseSpec(
        percent=spec.percent,
        bake_seconds=spec.bake_seconds,
        criteria=criteria_to_proto(spec.criteria),
    )
    if spec.approval is not None:
        message.approval.CopyFrom(
            pb.ApprovalGate(
                required=spec.approval.required,
                roles=list(spec.approval.roles),
                timeout_seconds=spec.approval.timeout_seconds,
                on_deadline=_DEADLINES_OUT[spec.approval.on_deadline],
                escalation_roles=list(spec.approval.escalation_roles),
            )
        )
    return message


def _live_phase(rollout: Rollout) -> pb.LivePhase | None:
    if not rollout.state.serves:
        return None
    live = pb.LivePhase(
        index=rollout.phase_index,
        percent=rollout.percent,
        bake_seconds=rollout.phase.bake_seconds,
        started_at=optional_timestamp(rollout.phase_started_at),
        next_check_at=optional_timestamp(rollout.due_at()),
        criteria=criteria_to_proto(rollout.phase.criteria),
    )
    gate = rollout.gate
    if gate is not None:
        live.approval.CopyFrom(
            pb.PendingApproval(
                phase_index=rollout.gate_phase,
                required=gate.rule.required,
                eligible_roles=list(gate.eligible_roles),
                deadline=to_timestamp(gate.deadline),
                votes=[
                    pb.ApprovalVote(
                        approver=v.approver,
                        role=v.role,
                        approve=v.approve,
                        comment=v.comment,
                        at=to_timestamp(v.at),
                    )
                    for v in gate.votes
                ],
                state=gate.state.value,
            )
        )
    return live


def to_proto(rollout: Rollout) -> pb.Rollout:
    return pb.Rollout(
        rollout_id=rollout.rollout_id,
        tenant_id=rollout.tenant_id,
        plugin=rollout.plugin,
        version=rollout.version,
        stable_version=rollout.stable_version,
        state=pb.RolloutState.Value(f"ROLLOUT_STATE_{rollout.state.value}"),
        phases=list(rollout.phases),
        phase_index=rollout.phase_index,
        percent=rollout.percent,
        bake_seconds=rollout.bake_seconds,
        security_passed=bool(rollout.security_passed),
        compat_passed=bool(rollout.compat_passed),
        reason=rollout.reason,
        created_at=to_timestamp(rollout.created_at),
        phase_started_at=optional_timestamp(rollout.phase_started_at),
        history=[
            pb.RolloutEvent(at=to_timestamp(entry.at), kind=entry.kind, detail=entry.detail)
            for entry in rollout.history
        ],
        strategy=_STRATEGY_OUT[rollout.strategy],
        plan=[phase_to_proto(spec) for spec in rollout.plan],
        slo_id=rollout.slo_id,
        attempt=rollout.attempt,
        retry_of=rollout.retry_of,
        paused_at=optional_timestamp(rollout.paused_at),
        hold_timeout_seconds=rollout.hold_timeout_seconds,
        live_phase=_live_phase(rollout),
    )


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0


def _version_metrics(data: Mapping[str, Any] | None) -> pb.VersionMetrics | None:
    if not data:
        return None
    return pb.VersionMetrics(
        version=str(data.get("version", "")),
        samples=int(data.get("total", 0)),
        errors=int(data.get("errors", 0)),
        error_rate=_number(data.get("error_rate")),
        latency_p95_ms=_number(data.get("latency_p95_ms")),
        latency_p99_ms=_number(data.get("latency_p99_ms")),
        burn_rate=_number(data.get("burn_rate")),
    )


def judgment_result_to_proto(data: Mapping[str, Any]) -> pb.JudgmentResult:
    return pb.JudgmentResult(
        score=_number(data.get("score")),
        verdict=str(data.get("verdict", "")),
        reason=str(data.get("reason", "")),
        metrics=[
            pb.MetricVerdict(
                name=m["name"],
                label=m["label"],
                reason=m.get("reason", ""),
                critical=bool(m.get("critical")),
                deviation=_number(m.get("deviation")),
                p_value=_number(m.get("p_value")),
                lower=_number(m.get("lower")),
                upper=_number(m.get("upper")),
                estimate=_number(m.get("estimate")),
                canary_intervals=int(m.get("canary_count", 0)),
                baseline_intervals=int(m.get("baseline_count", 0)),
            )
            for m in data.get("metrics", ())
        ],
        groups=[
            pb.GroupVerdict(name=g["name"], score=_number(g["score"]), no_data=bool(g["no_data"]))
            for g in data.get("groups", ())
        ],
    )


def evidence_to_proto(document: Mapping[str, Any]) -> pb.Evidence | None:
    window = document.get("window")
    if not window:
        return None
    evidence = pb.Evidence(
        window_start=to_timestamp(datetime.fromisoformat(window["start"])),
        window_end=to_timestamp(datetime.fromisoformat(window["end"])),
        canary=_version_metrics(document.get("canary")),
        baseline=_version_metrics(document.get("baseline")),
    )
    if document.get("judgment"):
        evidence.judgment.CopyFrom(judgment_result_to_proto(document["judgment"]))
    return evidence


def decision_to_proto(decision: Decision) -> pb.Decision:
    return pb.Decision(
        decision_id=decision.decision_id,
        rollout_id=decision.rollout_id,
        at=to_timestamp(decision.at),
        kind=_KINDS[decision.kind],
        source=decision.source.value,
        phase_index=decision.phase_index,
        percent=decision.percent,
        to_percent=decision.to_percent,
        reasons=list(decision.reasons),
        evidence=evidence_to_proto(decision.evidence),
        evidence_json=json.dumps(decision.evidence, sort_keys=True),
    )


def health_to_proto(health: Health) -> pb.RolloutHealth:
    decision = health.decision
    return pb.RolloutHealth(
        status=health.status,
        summary=health.summary,
        as_of=to_timestamp(decision.at) if decision is not None else None,
        evidence=evidence_to_proto(decision.evidence) if decision is not None else None,
    )


def audit_to_proto(record: AuditRecord) -> pb.AuditRecord:
    return pb.AuditRecord(
        audit_id=record.audit_id,
        rollout_id=record.rollout_id,
        at=to_timestamp(record.at),
        actor=record.actor,
        action=record.action,
        reason=record.reason,
        detail=record.detail,
    )


def replay_to_proto(result: ReplayResult) -> pb.ReplayRolloutResponse:
    return pb.ReplayRolloutResponse(
        decisions=[
            pb.ReplayedDecision(
                original=decision_to_proto(r.original),
                kind=_KINDS[r.kind],
                reasons=list(r.reasons),
                judgment=judgment_result_to_proto(r.judgment.to_json()) if r.judgment else None,
                differs=r.differs,
            )
            for r in result.decisions
        ],
        differing=result.differing,
        outcome=result.outcome,
        summary=result.summary,
    )
