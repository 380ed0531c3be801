"""SLO specs (an SLO without identity or scope) and a tenant's templates of them.

Rollout asks for "the SLO of this version" when it starts one; the tenant's
default template (or a named one) says what it is. A canary-scoped SLO made
from a spec without tiers of its own gets the canary tier instead of the
workbook's hours-long ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from portico_slo.domain.durations import Duration
from portico_slo.domain.indicator import BudgetingMethod, Indicator
from portico_slo.domain.objective import SloDefinition
from portico_slo.domain.scope import Scope, ScopeKind
from portico_slo.domain.tiers import DEFAULT_MIN_EVENTS, AlertPolicy
from portico_slo.domain.windows import TimeWindow
from portico_slo.errors import InvalidSloDefinitionError

BUILTIN_TEMPLATE = "default"
THIRTY_DAYS = TimeWindow(Duration(30, "d"))


@dataclass(frozen=True, slots=True)
class SloSpec:
    """Everything of an SLO but its identity and scope."""

    objective: float
    window: TimeWindow = THIRTY_DAYS
    indicator: Indicator = field(default_factory=Indicator)
    budgeting: BudgetingMethod = BudgetingMethod.OCCURRENCES
    timeslice_target: float = 0.0
    timeslice_seconds: int = 0
    # None: the workbook's tiers scaled to the window (the canary tier for a canary).
    alerting: AlertPolicy | None = None
    disabled_tiers: frozenset[str] = frozenset()
    min_events: int = DEFAULT_MIN_EVENTS
    labels: tuple[tuple[str, str], ...] = ()
    name: str = ""
    display_name: str = ""
    description: str = ""
    openslo: str = ""

    def policy_for(self, scope: Scope, canary: AlertPolicy | None = None) -> AlertPolicy:
        if self.alerting is not None:
            policy = self.alerting
        elif scope.kind is ScopeKind.CANARY:
            # The canary tier is its own: the workbook tiers disabled here are not in it.
            return canary or AlertPolicy.canary()
        else:
            policy = AlertPolicy.workbook(self.window.nominal_seconds, min_events=self.min_events)
        return policy.with_disabled(self.disabled_tiers) if self.disabled_tiers else policy

    def definition(
        self,
        slo_id: str,
        tenant_id: str,
        scope: Scope,
        *,
        name: str | None = None,
        canary: AlertPolicy | None = None,
    ) -> SloDefinition:
        """The SLO this spec makes for a scope (validated)."""
        slices = scope.kind is not ScopeKind.CANARY or self.alerting is not None
        return SloDefinition(
            slo_id=slo_id,
            tenant_id=tenant_id,
            scope=scope,
            name=self.name if name is None else name,
            objective=self.objective,
            window=self.window,
            alerting=self.policy_for(scope, canary),
            indicator=self.indicator,
            # A canary lives minutes: its slices would outlast it, so it counts events.
            budgeting=self.budgeting if slices else BudgetingMethod.OCCURRENCES,
            timeslice_target=self.timeslice_target if slices else 0.0,
            timeslice_seconds=self.timeslice_seconds if slices else 0,
            labels=self.labels,
            display_name=self.display_name,
            description=self.description,
            openslo=self.openslo,
        )


@dataclass(frozen=True, slots=True)
class SloTemplate:
    """A named spec a tenant makes SLOs from, with the tier its canary SLOs get."""

    name: str
    spec: SloSpec
    canary: AlertPolicy = field(default_factory=AlertPolicy.canary)
    is_default: bool = False

    def __post_init__(self) -> None:
        if not self.name or " " in self.name or len(self.name) > 100:
            raise InvalidSloDefinitionError("template.name", "must be 1..100 characters, no spaces")
        # Instantiating once per kind of scope proves every SLO made from it is valid.
        self.instantiate("check", "check", Scope(ScopeKind.PLUGIN, "check"))
        self.instantiate("check", "check", Scope.of("check", "1", "rollout"))

    def instantiate(self, slo_id: str, tenant_id: str, scope: Scope) -> SloDefinition:
        """The SLO this template makes for a scope, named after the template and the scope."""
        name = f"{self.name}:{scope.default_name}"
        return self.spec.definition(slo_id, tenant_id, scope, name=name, canary=self.canary)


BUILTIN = SloTemplate(name=BUILTIN_TEMPLATE, spec=SloSpec(objective=0.99))
