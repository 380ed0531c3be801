"""Errors the rollout service raises on purpose.

Each one is a RolloutError and belongs to one of the kernel's categories,
which names the gRPC status the interceptor maps it to; the domain never
imports gRPC, so the category is a plain class.
"""

from __future__ import annotations

from collections.abc import Sequence

from portico_common.errors import (
    AlreadyExistsError,
    ConflictError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    PorticoError,
    ResourceExhaustedError,
    UnavailableError,
)


class RolloutError(PorticoError):
    """Base of every rollout error."""


class InvalidRolloutError(RolloutError, InvalidArgumentError):
    """A rollout field is malformed (a request, or a corrupt stored row)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid rollout {field}: {problem}")
        self.field = field
        self.problem = problem


class InvalidPhasesError(RolloutError, InvalidArgumentError):
    """The phase percentages cannot describe a canary."""

    def __init__(self, phases: Sequence[int], problem: str) -> None:
        super().__init__(f"invalid rollout phases {list(phases)}: {problem}")
        self.phases = tuple(phases)
        self.problem = problem


class InvalidCriteriaError(RolloutError, InvalidArgumentError):
    """A phase's success criteria, its judgment or its strategy cannot be used."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid rollout criteria {field}: {problem}")
        self.field = field
        self.problem = problem


class NaiveDatetimeError(RolloutError, InvalidArgumentError):
    """A time without a timezone reached the domain, where it would be ambiguous."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} must be a timezone-aware datetime")
        self.name = name


class InvalidBucketError(RolloutError, InvalidArgumentError):
    """A sticky bucket lies outside [0, 10000)."""

    def __init__(self, bucket: int) -> None:
        super().__init__(f"sticky bucket {bucket} is outside [0, 10000)")
        self.bucket = bucket


class InvalidTransitionError(RolloutError, FailedPreconditionError):
    """The state machine does not allow this move from the current state."""

    def __init__(self, rollout_id: str, from_state: str, to_state: str) -> None:
        super().__init__(f"rollout {rollout_id} cannot move from {from_state} to {to_state}")
        self.rollout_id = rollout_id
        self.from_state = from_state
        self.to_state = to_state


class RolloutNotFoundError(RolloutError, NotFoundError):
    """No rollout with this id exists for the tenant."""

    def __init__(self, rollout_id: str) -> None:
        super().__init__(f"rollout {rollout_id} not found")
        self.rollout_id = rollout_id


class RolloutAlreadyExistsError(RolloutError, AlreadyExistsError):
    """A rollout that is not finished already exists for this tenant and plugin."""

    def __init__(self, tenant_id: str, plugin: str, rollout_id: str) -> None:
        super().__init__(
            f"plugin {plugin} of tenant {tenant_id} already has rollout {rollout_id} under way"
        )
        self.tenant_id = tenant_id
        self.plugin = plugin
        self.rollout_id = rollout_id


class RolloutConflictError(RolloutError, ConflictError):
    """The rollout changed since it was loaded; the caller retries with a fresh copy."""

    def __init__(self, rollout_id: str, revision: int) -> None:
        super().__init__(f"rollout {rollout_id} changed since revision {revision}; retry")
        self.rollout_id = rollout_id
        self.revision = revision


class ApprovalRefusedError(RolloutError, FailedPreconditionError):
    """A vote on a phase's gate that cannot count (wrong role, decided, past its deadline)."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"approval refused: {problem}")
        self.problem = problem


class ApproverRoleNotHeldError(RolloutError, PermissionDeniedError):
    """The caller's verified token does not carry the role it decides a gate as."""

    def __init__(self, subject: str, role: str, held: tuple[str, ...]) -> None:
        roles = ", ".join(held) if held else "none"
        super().__init__(
            f"approval refused: {subject!r} may not decide as {role!r}:"
            f" its token's roles are {roles}"
        )
        self.subject = subject
        self.role = role
        self.held = held


class RolloutNotFinishedError(RolloutError, FailedPreconditionError):
    """Only a failed rollout (rolled back or refused) can be retried."""

    def __init__(self, rollout_id: str, state: str) -> None:
        super().__init__(f"rollout {rollout_id} is {state}; only a failed rollout can be retried")
        self.rollout_id = rollout_id
        self.state = state


class SloUnavailableError(RolloutError, UnavailableError):
    """The slo service could not be asked (down, slow, or not configured); retry later."""

    def __init__(self, what: str, problem: str) -> None:
        super().__init__(f"slo could not {what}: {problem}")
        self.what = what
        self.problem = problem


class SloRefusedError(RolloutError, FailedPreconditionError):
    """slo refused what rollout asked (say the named SLO template does not exist)."""

    def __init__(self, what: str, problem: str) -> None:
        super().__init__(f"slo refused to {what}: {problem}")
        self.what = what
        self.problem = problem


class AssignmentsNotReadyError(RolloutError, UnavailableError):
    """The in-memory assignments are not built yet, so no answer would be right."""

    def __init__(self) -> None:
        super().__init__("rollout assignments are still loading; retry shortly")


class InvalidHttpRouteError(RolloutError, InternalError):
    """A rendered HTTPRoute breaks the Gateway API schema: a bug here, never the caller's."""

    def __init__(self, name: str, problems: Sequence[str]) -> None:
        super().__init__(f"HTTPRoute {name} breaks the Gateway API schema: {'; '.join(problems)}")
        self.name = name
        self.problems = tuple(problems)


class RouteApplyError(RolloutError, UnavailableError):
    """The cluster refused or could not take an HTTPRoute; it is applied again later."""

    def __init__(self, name: str, status: int, detail: str) -> None:
        super().__init__(f"HTTPRoute {name} not applied: HTTP {status}: {detail}")
        self.name = name
        self.status = status


class RolloutQuotaExceededError(RolloutError, ResourceExhaustedError):
    """The tenant already runs as many rollouts as its quota allows: this one was not created."""


class QuotaUnavailableError(RolloutError, UnavailableError):
    """tenancy could not be asked for room for a rollout: none is created meanwhile."""


class DependencyGraphUnavailableError(RolloutError, UnavailableError):
    """compat could not say which plugins depend on a version (the saga step is retried)."""

    def __init__(self, what: str, problem: str) -> None:
        super().__init__(f"compat could not {what}: {problem}")


class DependencyGraphRefusedError(RolloutError, FailedPreconditionError):
    """compat refused the question (a bad argument, a permission); the step is retried."""

    def __init__(self, what: str, problem: str) -> None:
        super().__init__(f"compat refused to {what}: {problem}")


class AdvisoriesUnavailableError(RolloutError, UnavailableError):
    """security could not list a version's advisories; the rollout is judged again later."""

    def __init__(self, what: str, problem: str) -> None:
        super().__init__(f"security could not list the advisories of {what}: {problem}")


class VersionStillFailingError(RolloutError, FailedPreconditionError):
    """The version's SLO still burns, or a breaker of it is open: no rollout of it starts
    until slo says it recovered (an earlier attempt's violation is still active)."""

    def __init__(self, plugin: str, version: str, problems: Sequence[str]) -> None:
        super().__init__(
            f"{plugin}@{version} is still failing: {'; '.join(problems)}; request the rollout"
            " again once it recovers (slo.recovered, the breaker closed or half-open)"
        )
        self.problems = tuple(problems)
