"""Errors the rollout service raises on purpose.

Each class names, in `code`, the gRPC status an entrypoint maps it to; the
domain never imports gRPC, so the code is a plain string.
"""

from __future__ import annotations

from collections.abc import Sequence

from portico_common.errors import PorticoError


class RolloutError(PorticoError):
    """Base of every rollout error."""

    code = "FAILED_PRECONDITION"


class InvalidRolloutError(RolloutError):
    """A rollout field is malformed (a request, or a corrupt stored row)."""

    code = "INVALID_ARGUMENT"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid rollout {field}: {problem}")
        self.field = field
        self.problem = problem


class InvalidPhasesError(RolloutError):
    """The phase percentages cannot describe a canary."""

    code = "INVALID_ARGUMENT"

    def __init__(self, phases: Sequence[int], problem: str) -> None:
        super().__init__(f"invalid rollout phases {list(phases)}: {problem}")
        self.phases = tuple(phases)
        self.problem = problem


class NaiveDatetimeError(RolloutError):
    """A time without a timezone reached the domain, where it would be ambiguous."""

    code = "INVALID_ARGUMENT"

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} must be a timezone-aware datetime")
        self.name = name


class InvalidBucketError(RolloutError):
    """A sticky bucket lies outside [0, 10000)."""

    code = "INVALID_ARGUMENT"

    def __init__(self, bucket: int) -> None:
        super().__init__(f"sticky bucket {bucket} is outside [0, 10000)")
        self.bucket = bucket


class InvalidTransitionError(RolloutError):
    """The state machine does not allow this move from the current state."""

    code = "FAILED_PRECONDITION"

    def __init__(self, rollout_id: str, from_state: str, to_state: str) -> None:
        super().__init__(f"rollout {rollout_id} cannot move from {from_state} to {to_state}")
        self.rollout_id = rollout_id
        self.from_state = from_state
        self.to_state = to_state


class RolloutNotFoundError(RolloutError):
    """No rollout with this id exists for the tenant."""

    code = "NOT_FOUND"

    def __init__(self, rollout_id: str) -> None:
        super().__init__(f"rollout {rollout_id} not found")
        self.rollout_id = rollout_id


class RolloutAlreadyExistsError(RolloutError):
    """A rollout that is not finished already exists for this tenant and plugin."""

    code = "ALREADY_EXISTS"

    def __init__(self, tenant_id: str, plugin: str, rollout_id: str) -> None:
        super().__init__(
            f"plugin {plugin} of tenant {tenant_id} already has rollout {rollout_id} under way"
        )
        self.tenant_id = tenant_id
        self.plugin = plugin
        self.rollout_id = rollout_id


class RolloutConflictError(RolloutError):
    """The rollout changed since it was loaded; the caller retries with a fresh copy."""

    code = "ABORTED"

    def __init__(self, rollout_id: str, revision: int) -> None:
        super().__init__(f"rollout {rollout_id} changed since revision {revision}; retry")
        self.rollout_id = rollout_id
        self.revision = revision
