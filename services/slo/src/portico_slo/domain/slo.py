"""Where one SLO stands: which tiers fire, and the events their changes emit.

A tier starts firing when it trips (both windows burn at its factor and the
short window has traffic) and stops when its windows no longer both burn.
A tier that starts while a faster one fires is inhibited: it is recorded but
announces nothing (one page, not four); if the faster one stops first, the
slower one is announced then. The SLO is VIOLATED while any tier fires and
OK again once none does, which re-arms it: a version rolled back on a
violation stops burning, recovers, and a later attempt is protected again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from portico_slo.domain._time import require_aware
from portico_slo.domain.burn_rate import Evaluation, TierEvaluation
from portico_slo.domain.events import SloEvent, SloRecovered, SloViolated
from portico_slo.domain.objective import SloDefinition
from portico_slo.errors import InvalidSloDefinitionError


class SloState(StrEnum):
    """Whether the SLO is violated; the value is what the database stores."""

    OK = "OK"
    VIOLATED = "VIOLATED"


class TierState(StrEnum):
    FIRING = "firing"
    INHIBITED = "inhibited"


@dataclass(frozen=True, slots=True)
class ActiveTier:
    """A tier that fires (announced by `violation_id`) or is held back by a faster one."""

    state: TierState
    since: datetime
    violation_id: str = ""


# A row written before tiers were recorded says VIOLATED and nothing more.
_CLASSIC = "classic"


@dataclass
class SloStatus:
    """Where one SLO stands; `observe` is the only way it changes."""

    slo_id: str
    state: SloState = SloState.OK
    violated_at: datetime | None = None
    tiers: dict[str, ActiveTier] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.violated_at is not None:
            require_aware(self.violated_at, "violated_at")
        elif self.state is SloState.VIOLATED:
            raise InvalidSloDefinitionError("violated_at", "a violated SLO needs the time")

    def observe(
        self, definition: SloDefinition, evaluation: Evaluation, now: datetime
    ) -> list[SloEvent]:
        """Take an evaluation; return the violations and recoveries it causes."""
        require_aware(now, "now")
        if definition.slo_id != self.slo_id:
            raise InvalidSloDefinitionError(
                "slo_id", f"definition {definition.slo_id} is not for status {self.slo_id}"
            )
        if self.state is SloState.VIOLATED and not self.tiers and self.violated_at:
            self.tiers[definition.fastest.name] = ActiveTier(
                TierState.FIRING, self.violated_at, _CLASSIC
            )
        violations: list[SloViolated] = []
        judged = {t.tier.name for t in evaluation.tiers}
        # A tier disabled (or removed) while firing stops with it.
        stopped: list[tuple[TierEvaluation | None, str, ActiveTier]] = [
            (None, name, self.tiers.pop(name)) for name in list(self.tiers) if name not in judged
        ]
        faster_active = False
        for result in evaluation.tiers:
            name = result.tier.name
            current = self.tiers.get(name)
            if current is not None and not result.burning:
                del self.tiers[name]
                stopped.append((result, name, current))
                continue
            if current is None and result.tripped:
                if faster_active:
                    self.tiers[name] = ActiveTier(TierState.INHIBITED, now)
                else:
                    violations.append(self._fire(definition, result, now))
            elif current is not None and current.state is TierState.INHIBITED and not faster_active:
                violations.append(self._fire(definition, result, now))
            faster_active = faster_active or name in self.tiers
        if self.tiers:
            if self.state is SloState.OK:
                self.state, self.violated_at = SloState.VIOLATED, now
        else:
            self.state, self.violated_at = SloState.OK, None
        recoveries = [
            _recovered(definition, result, name, active, now, slo_ok=not self.tiers)
            for result, name, active in stopped
            if active.state is TierState.FIRING
        ]
        return [*recoveries, *violations]

    def _fire(
        self, definition: SloDefinition, result: TierEvaluation, now: datetime
    ) -> SloViolated:
        tier = result.tier
        violation_id = f"{definition.slo_id}/{tier.name}/{int(now.timestamp() * 1000)}"
        self.tiers[tier.name] = ActiveTier(TierState.FIRING, now, violation_id)
        return SloViolated(
            tenant_id=definition.tenant_id,
            slo_id=definition.slo_id,
            plugin=definition.plugin,
            version=definition.version,
            rule=tier.rule,
            short_window_burn_rate=result.short_burn,
            long_window_burn_rate=result.long_burn,
            threshold=tier.factor,
            detected_at=now,
            tier=tier.name,
            severity=tier.severity.value,
            short_window_seconds=tier.short_window_seconds,
            long_window_seconds=tier.long_window_seconds,
            short_good=result.short.events.good,
            short_bad=result.short.events.bad,
            long_good=result.long.events.good,
            long_bad=result.long.events.bad,
            violation_id=violation_id,
            name=definition.name,
            scope=definition.scope.kind.value,
            rollout_id=definition.scope.rollout_id,
            team=definition.team,
        )


def _recovered(
    definition: SloDefinition,
    result: TierEvaluation | None,
    name: str,
    active: ActiveTier,
    now: datetime,
    *,
    slo_ok: bool,
) -> SloRecovered:
    tier = definition.alerting.tier(name)
    return SloRecovered(
        tenant_id=definition.tenant_id,
        slo_id=definition.slo_id,
        plugin=definition.plugin,
        version=definition.version,
        tier=name,
        severity=tier.severity.value if tier else "",
        violation_id=active.violation_id,
        violated_at=active.since,
        recovered_at=now,
        short_window_burn_rate=result.short_burn if result else 0.0,
        long_window_burn_rate=result.long_burn if result else 0.0,
        threshold=tier.factor if tier else 0.0,
        slo_ok=slo_ok,
        name=definition.name,
        scope=definition.scope.kind.value,
        rollout_id=definition.scope.rollout_id,
        team=definition.team,
    )
