"""The violation state machine of one SLO: OK until a rule trips, then VIOLATED."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from portico_slo.domain._time import require_aware
from portico_slo.domain.burn_rate import Evaluation
from portico_slo.domain.events import SloViolated
from portico_slo.domain.objective import SloDefinition
from portico_slo.errors import InvalidSloDefinitionError


class SloState(StrEnum):
    """Whether the SLO has been violated; the value is what the database stores."""

    OK = "OK"
    VIOLATED = "VIOLATED"


@dataclass
class SloStatus:
    """Where one SLO stands; `observe` is the only way it changes.

    VIOLATED latches. The violation rolls the version back, after which it gets
    no traffic and its burn rate falls by itself; treating that as recovery
    would re-arm the alert for a version nobody should use. A fixed release
    is a new version with its own SLO.
    """

    slo_id: str
    state: SloState = SloState.OK
    violated_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.violated_at is not None:
            require_aware(self.violated_at, "violated_at")
        elif self.state is SloState.VIOLATED:
            raise InvalidSloDefinitionError("violated_at", "a violated SLO needs the time")

    def observe(
        self, definition: SloDefinition, evaluation: Evaluation, now: datetime
    ) -> list[SloViolated]:
        """Take an evaluation; the first tripped one emits SloViolated, later ones nothing."""
        require_aware(now, "now")
        if definition.slo_id != self.slo_id:
            raise InvalidSloDefinitionError(
                "slo_id", f"definition {definition.slo_id} is not for status {self.slo_id}"
            )
        if self.state is SloState.VIOLATED or not evaluation.tripped:
            return []
        self.state = SloState.VIOLATED
        self.violated_at = now
        return [
            SloViolated(
                tenant_id=definition.tenant_id,
                slo_id=definition.slo_id,
                plugin=definition.plugin,
                version=definition.version,
                rule=definition.rule,
                short_window_burn_rate=evaluation.short_burn,
                long_window_burn_rate=evaluation.long_burn,
                threshold=definition.burn_rate_threshold,
                detected_at=now,
            )
        ]
