"""The rollback saga's steps: what must happen, in order, once a rollout rolls back.

Each step is persisted with its state, so running the saga again (after a
crash or a redelivery) skips what is done and finishes what is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from portico_rollout.domain._time import require_aware

# Traffic goes back first: that is the change users feel, and it is the
# rollout's own state change (a rolled-back rollout serves 0%).
TRAFFIC_TO_STABLE = "traffic_to_stable"
# Then dependents of the version are compensated, in reverse dependency order.
COMPENSATE_DEPENDENTS = "compensate_dependents"
ROLLBACK_STEPS: tuple[str, ...] = (TRAFFIC_TO_STABLE, COMPENSATE_DEPENDENTS)


class StepState(StrEnum):
    """Where a step is; the value is what the database stores."""

    PENDING = "pending"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class SagaStep:
    """One step of one rollout's rollback saga."""

    tenant_id: str
    rollout_id: str
    step: str
    ordinal: int
    state: StepState
    detail: str
    at: datetime

    def __post_init__(self) -> None:
        require_aware(self.at, "saga step time")
