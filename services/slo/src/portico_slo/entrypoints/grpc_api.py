"""gRPC entrypoint of slo: map the request, call the use case, map back."""

from __future__ import annotations

from dataclasses import dataclass

from portico.slo.v1 import slo_pb2 as pb
from portico.slo.v1 import slo_pb2_grpc as pb_grpc
from portico_common.grpc.interceptor import Context
from portico_common.timestamps import to_timestamp
from portico_slo.app import budgets, handlers, openslo, rules, templates
from portico_slo.app.dashboard import AlertFeed, tenant_dashboard
from portico_slo.app.ports import BurnRateGauge, SloFilter, SloRecord, UnitOfWorkFactory
from portico_slo.domain.ingest import OutcomeResult
from portico_slo.domain.slo import SloState
from portico_slo.entrypoints import dashboard_mapping as dm
from portico_slo.entrypoints import grpc_mapping as m
from portico_slo.entrypoints.grpc_version_outcomes import get_version_outcomes
from portico_slo.entrypoints.outcome_mapping import outcome_batch

_RESULTS = {
    OutcomeResult.ACCEPTED: pb.OUTCOME_RESULT_ACCEPTED,
    OutcomeResult.TOO_LATE: pb.OUTCOME_RESULT_TOO_LATE,
    OutcomeResult.TOO_EARLY: pb.OUTCOME_RESULT_TOO_EARLY,
}


def to_proto(slo: SloRecord) -> pb.Slo:
    return m.slo_message(slo)


@dataclass(frozen=True)
class IngestLimits:
    """How late (and how early) a reported outcome may be and still count."""

    max_lateness_seconds: int = 300
    max_skew_seconds: int = 60


class SloServicer(pb_grpc.SloServiceServicer):
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        gauge: BurnRateGauge,
        limits: IngestLimits | None = None,
        *,
        alert_feed: AlertFeed | None = None,
    ) -> None:
        self._uow = uow
        self._gauge = gauge
        self._limits = limits or IngestLimits()
        self._alert_feed = alert_feed

    async def CreateSlo(
        self, request: pb.CreateSloRequest, context: Context
    ) -> pb.CreateSloResponse:
        slo = await handlers.create_slo(
            self._uow,
            self._gauge,
            tenant_id=request.tenant_id,
            plugin=request.plugin,
            version=request.version,
            objective=request.objective,
            window_seconds=request.window_seconds,
            latency_threshold_ms=request.latency_threshold_ms,
            burn_rate_threshold=request.burn_rate_threshold,
            short_window_seconds=request.short_window_seconds,
            long_window_seconds=request.long_window_seconds,
            min_events=request.min_events,
            rollout_id=request.rollout_id,
            spec=m.spec_of(request.spec) if request.HasField("spec") else None,
        )
        return pb.CreateSloResponse(slo=to_proto(slo))

    async def GetSlo(self, request: pb.GetSloRequest, context: Context) -> pb.GetSloResponse:
        slo = await handlers.get_slo(
            self._uow, self._gauge, tenant_id=request.tenant_id, slo_id=request.slo_id
        )
        return pb.GetSloResponse(slo=to_proto(slo))

    async def UpdateSlo(
        self, request: pb.UpdateSloRequest, context: Context
    ) -> pb.UpdateSloResponse:
        slo = await handlers.update_slo(
            self._uow,
            self._gauge,
            tenant_id=request.tenant_id,
            slo_id=request.slo_id,
            spec=m.spec_of(request.spec),
        )
        return pb.UpdateSloResponse(slo=to_proto(slo))

    async def DeleteSlo(
        self, request: pb.DeleteSloRequest, context: Context
    ) -> pb.DeleteSloResponse:
        await handlers.delete_slo(self._uow, tenant_id=request.tenant_id, slo_id=request.slo_id)
        return pb.DeleteSloResponse()

    async def ListSlos(self, request: pb.ListSlosRequest, context: Context) -> pb.ListSlosResponse:
        page, token = await handlers.list_slos(
            self._uow,
            tenant_id=request.tenant_id,
            where=SloFilter(
                plugin=request.plugin,
                version=request.version,
                scope=m.SCOPE_OF.get(request.scope),
                violated_only=request.violated_only,
                name_prefix=request.name_prefix,
            ),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListSlosResponse(slos=[to_proto(s) for s in page], next_page_token=token)

    async def ReportOutcomes(
        self, request: pb.ReportOutcomesRequest, context: Context
    ) -> pb.ReportOutcomesResponse:
        result = await handlers.report_outcomes(
            self._uow,
            self._gauge,
            tenant_id=request.tenant_id,
            plugin=request.plugin,
            version=request.version,
            rollout_id=request.rollout_id,
            outcomes=outcome_batch(request.outcomes),
            max_lateness_seconds=self._limits.max_lateness_seconds,
            max_skew_seconds=self._limits.max_skew_seconds,
        )
        response = pb.ReportOutcomesResponse(
            slo_id=result.slo_id,
            accepted=result.accepted,
            short_window_burn_rate=result.short_window_burn_rate,
            long_window_burn_rate=result.long_window_burn_rate,
            violated=result.violated,
        )
        # Only when something was refused, so a clean report answers as it always did.
        if result.refused:
            response.refused = result.refused
            response.results.extend(_RESULTS[r] for r in result.results)
        if len(result.judged) > 1:
            response.evaluations.extend(
                pb.SloEvaluation(
                    slo_id=s.slo_id,
                    name=s.definition.name,
                    violated=s.status.state is SloState.VIOLATED,
                    tier_burns=to_proto(s).tier_burns,
                )
                for s in result.judged
            )
        return response

    async def EnsureVersionSlo(
        self, request: pb.EnsureVersionSloRequest, context: Context
    ) -> pb.EnsureVersionSloResponse:
        ensured = await templates.ensure_version_slo(
            self._uow,
            self._gauge,
            tenant_id=request.tenant_id,
            plugin=request.plugin,
            version=request.version,
            template=request.template,
            rollout_id=request.rollout_id,
        )
        return pb.EnsureVersionSloResponse(slo=to_proto(ensured.slo), created=ensured.created)

    async def CreateSloTemplate(
        self, request: pb.CreateSloTemplateRequest, context: Context
    ) -> pb.CreateSloTemplateResponse:
        template = await templates.create_template(
            self._uow, tenant_id=request.tenant_id, template=m.template_of(request.template)
        )
        return pb.CreateSloTemplateResponse(template=m.template_message(template))

    async def GetSloTemplate(
        self, request: pb.GetSloTemplateRequest, context: Context
    ) -> pb.GetSloTemplateResponse:
        template = await templates.get_template(
            self._uow, tenant_id=request.tenant_id, name=request.name
        )
        return pb.GetSloTemplateResponse(template=m.template_message(template))

    async def ListSloTemplates(
        self, request: pb.ListSloTemplatesRequest, context: Context
    ) -> pb.ListSloTemplatesResponse:
        found = await templates.list_templates(self._uow, tenant_id=request.tenant_id)
        return pb.ListSloTemplatesResponse(templates=[m.template_message(t) for t in found])

    async def UpdateSloTemplate(
        self, request: pb.UpdateSloTemplateRequest, context: Context
    ) -> pb.UpdateSloTemplateResponse:
        template = await templates.update_template(
            self._uow, tenant_id=request.tenant_id, template=m.template_of(request.template)
        )
        return pb.UpdateSloTemplateResponse(template=m.template_message(template))

    async def DeleteSloTemplate(
        self, request: pb.DeleteSloTemplateRequest, context: Context
    ) -> pb.DeleteSloTemplateResponse:
        await templates.delete_template(self._uow, tenant_id=request.tenant_id, name=request.name)
        return pb.DeleteSloTemplateResponse()

    async def ImportOpenSlo(
        self, request: pb.ImportOpenSloRequest, context: Context
    ) -> pb.ImportOpenSloResponse:
        slos = await openslo.import_openslo(
            self._uow,
            self._gauge,
            tenant_id=request.tenant_id,
            text=request.yaml,
            plugin=request.plugin,
            version=request.version,
            rollout_id=request.rollout_id,
            dry_run=request.dry_run,
        )
        return pb.ImportOpenSloResponse(slos=[to_proto(s) for s in slos])

    async def ExportOpenSlo(
        self, request: pb.ExportOpenSloRequest, context: Context
    ) -> pb.ExportOpenSloResponse:
        text = await openslo.export_openslo(
            self._uow, tenant_id=request.tenant_id, slo_ids=list(request.slo_ids)
        )
        return pb.ExportOpenSloResponse(yaml=text)

    async def ExportPrometheusRules(
        self, request: pb.ExportPrometheusRulesRequest, context: Context
    ) -> pb.ExportPrometheusRulesResponse:
        exported = await rules.export_rules(
            self._uow, tenant_id=request.tenant_id, slo_ids=list(request.slo_ids)
        )
        return pb.ExportPrometheusRulesResponse(
            yaml=exported.rules_yaml,
            alertmanager_yaml=exported.alertmanager_yaml,
            skipped=[
                pb.SkippedSlo(slo_id=s.slo_id, name=s.name, reason=s.reason)
                for s in exported.skipped
            ],
        )

    async def GetErrorBudget(
        self, request: pb.GetErrorBudgetRequest, context: Context
    ) -> pb.GetErrorBudgetResponse:
        view = await budgets.error_budget(
            self._uow,
            tenant_id=request.tenant_id,
            slo_id=request.slo_id,
            burn_windows=list(request.burn_windows_seconds),
            history_points=request.history_points,
            history_step_seconds=request.history_step_seconds,
        )
        return pb.GetErrorBudgetResponse(
            budget=m.budget_message(view.budget),
            burns=[m.burn_message(b) for b in view.burns],
            history=[m.budget_message(b) for b in view.history],
        )

    async def ListViolations(
        self, request: pb.ListViolationsRequest, context: Context
    ) -> pb.ListViolationsResponse:
        found = await budgets.list_violations(
            self._uow, tenant_id=request.tenant_id, slo_id=request.slo_id, limit=request.limit
        )
        return pb.ListViolationsResponse(violations=[m.violation_message(v) for v in found])

    async def GetSloDashboard(
        self, request: pb.GetSloDashboardRequest, context: Context
    ) -> pb.GetSloDashboardResponse:
        whole = await tenant_dashboard(
            self._uow, self._alert_feed, tenant_id=request.tenant_id, plugin=request.plugin
        )
        board = whole.board
        return pb.GetSloDashboardResponse(
            tenant_id=board.tenant_id,
            as_of=to_timestamp(board.as_of),
            plugins=[
                pb.PluginHealth(
                    plugin=p.plugin,
                    health_score=p.health_score,
                    slos=p.slos,
                    violated=p.violated,
                    lowest_budget_remaining=p.lowest_budget_remaining,
                )
                for p in board.plugins
            ],
            slos=[
                dm.panel_message(p, whole.breakers_of(p), whole.alerts_of(p)) for p in board.panels
            ],
            breakers=[dm.breaker_summary(b) for b in whole.breakers],
            alert_history=[dm.alert_summary(a) for a in whole.alert_history],
        )

    async def GetVersionOutcomes(
        self, request: pb.GetVersionOutcomesRequest, context: Context
    ) -> pb.GetVersionOutcomesResponse:
        return await get_version_outcomes(self._uow, request)
