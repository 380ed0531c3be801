"""The rollback saga's steps: what must happen, in order, once a rollout rolls back.

Each step is persisted with its state, so running the saga again (after a
crash or a redelivery) skips what is done and finishes what is not.

Traffic goes back in the transaction of the decision. Finding the installed
plugins that need the rolled-back version asks compat, outside any
transaction, so it is a step of its own that the saga runner takes; what it
finds becomes one more step per dependent, in rollback order (a plugin
before the plugins it needs), each rolled back in its own transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from portico_rollout.domain._time import require_aware

# Traffic goes back first: that is the change users feel, and it is the
# rollout's own state change (a rolled-back rollout serves 0%).
TRAFFIC_TO_STABLE = "traffic_to_stable"
# Then the plugins that need the version are found (compat's dependency graph)...
FIND_DEPENDENTS = "find_dependents"
ROLLBACK_STEPS: tuple[str, ...] = (TRAFFIC_TO_STABLE, FIND_DEPENDENTS)
# ...and each is rolled back by a step named "dependent:<plugin>@<version>".
DEPENDENT_PREFIX = "dependent:"


@dataclass(frozen=True, slots=True)
class DependentPlugin:
    """An installed plugin version that needs the rolled-back version, as compat found it."""

    plugin: str
    version: str
    # What it needs ("name version") and how far from the rolled-back version it is.
    needs: str
    depth: int

    @property
    def step(self) -> str:
        return dependent_step(self.plugin, self.version)


def dependent_step(plugin: str, version: str) -> str:
    """The saga step that rolls back one dependent."""
    return f"{DEPENDENT_PREFIX}{plugin}@{version}"


def dependent_of_step(step: str) -> tuple[str, str] | None:
    """(plugin, version) of a dependent's step; None for any other step.

    The version is after the last "@": a scoped plugin's name starts with one.
    """
    if not step.startswith(DEPENDENT_PREFIX):
        return None
    plugin, at, version = step[len(DEPENDENT_PREFIX) :].rpartition("@")
    return (plugin, version) if at and plugin and version else None


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
    # Attempts at this step that failed in a row (a done step keeps its count),
    # and when a step that failed may be tried again; None until it fails.
    failed_attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str = ""

    def __post_init__(self) -> None:
        require_aware(self.at, "saga step time")
        if self.next_attempt_at is not None:
            require_aware(self.next_attempt_at, "saga step's next attempt")

    def due(self, now: datetime) -> bool:
        """Whether the step may be tried at `now`: it never failed, or its backoff is over."""
        return self.next_attempt_at is None or self.next_attempt_at <= now

    @property
    def ready_at(self) -> datetime:
        """Since when the step could be tried: its next attempt after a failure, else its start."""
        return self.next_attempt_at if self.next_attempt_at is not None else self.at


def saga_head(steps: Sequence[SagaStep]) -> SagaStep | None:
    """The step a saga runs next: its first pending one (steps run in order)."""
    pending = [s for s in steps if s.state is StepState.PENDING]
    return min(pending, key=lambda s: s.ordinal) if pending else None
