"""gRPC entrypoint of DependencyService: map the request, call the use case, map back."""
# gRPC fixes the servicer method names and their (request, context) signature.
# ruff: noqa: N802, ARG002

from __future__ import annotations

from collections.abc import Iterable

from portico.compat.v1 import dependencies_pb2 as pb
from portico.compat.v1 import dependencies_pb2_grpc as pb_grpc
from portico_common.grpc.interceptor import Context
from portico_compat.app.dependencies import DependencySolver
from portico_compat.domain.solver import ChangeKind, Explanation, ResolvedPackage
from portico_compat.domain.solver.dependents import Installed

_CHANGES = {
    ChangeKind.UNCHANGED: pb.CHANGE_KIND_UNCHANGED,
    ChangeKind.ADDED: pb.CHANGE_KIND_ADDED,
    ChangeKind.UPGRADED: pb.CHANGE_KIND_UPGRADED,
    ChangeKind.DOWNGRADED: pb.CHANGE_KIND_DOWNGRADED,
}


def packages_to_proto(packages: Iterable[ResolvedPackage]) -> list[pb.ResolvedPackage]:
    return [
        pb.ResolvedPackage(
            name=p.name,
            version=p.version,
            previous_version=p.previous_version,
            change=_CHANGES[p.change],
        )
        for p in packages
    ]


def explanation_to_proto(explanation: Explanation | None) -> pb.Explanation | None:
    if explanation is None:
        return None
    return pb.Explanation(
        reasons=explanation.reasons,
        conclusion=explanation.conclusion,
        suggestions=explanation.suggestions,
        broken_installed=explanation.broken_installed,
        text=explanation.text(),
    )


class DependencyServicer(pb_grpc.DependencyServiceServicer):
    def __init__(self, solver: DependencySolver) -> None:
        self._solver = solver

    async def SolveDependencies(
        self, request: pb.SolveDependenciesRequest, context: Context
    ) -> pb.SolveDependenciesResponse:
        outcome = await self._solver.solve_dependencies(
            request.tenant_id,
            [(p.name, p.version) for p in request.installed],
            [(p.name, p.range) for p in request.requested],
            allow_upgrades=request.allow_upgrades,
            budget=self._solver.budget_for(request.budget.max_rounds, request.budget.max_millis),
        )
        return pb.SolveDependenciesResponse(
            satisfiable=outcome.satisfiable,
            packages=packages_to_proto(outcome.packages),
            explanation=explanation_to_proto(outcome.explanation),
            stats=pb.SolverStats(
                rounds=outcome.stats.rounds,
                steps=outcome.stats.steps,
                seconds=outcome.stats.seconds,
            ),
        )

    async def PredictUpgradeImpact(
        self, request: pb.PredictUpgradeImpactRequest, context: Context
    ) -> pb.PredictUpgradeImpactResponse:
        impact = await self._solver.predict_upgrade_impact(
            request.tenant_id,
            [(p.name, p.version) for p in request.installed],
            request.plugin,
            request.target_range,
            budget=self._solver.budget_for(request.budget.max_rounds, request.budget.max_millis),
        )
        return pb.PredictUpgradeImpactResponse(
            safe=impact.safe,
            broken=[
                pb.BrokenPlugin(
                    name=b.name, version=b.version, reason=b.reason, suggestions=b.suggestions
                )
                for b in impact.broken
            ],
            plan=packages_to_proto(impact.plan),
            explanation=explanation_to_proto(impact.explanation),
        )

    async def ListDependents(
        self, request: pb.ListDependentsRequest, context: Context
    ) -> pb.ListDependentsResponse:
        found = await self._solver.list_dependents(
            request.tenant_id,
            [Installed(p.name, p.version, p.previous_version) for p in request.installed],
            Installed(request.plugin, request.version, request.previous_version),
        )
        return pb.ListDependentsResponse(
            dependents=[
                pb.Dependent(
                    name=d.name,
                    version=d.version,
                    needs=d.needs,
                    range=d.range_,
                    kind=d.kind,
                    depth=d.depth,
                )
                for d in found.dependents
            ],
            unknown=found.unknown,
        )
