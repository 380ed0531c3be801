"""Errors the slo service raises on purpose.

Each one is an SloError and belongs to one of the kernel's categories, which
names the gRPC status the interceptor maps it to; the domain never imports
gRPC, so the category is a plain class.
"""

from __future__ import annotations

from portico_common.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PorticoError,
    UnavailableError,
)


class SloError(PorticoError):
    """Base of every slo error."""


class InvalidSloDefinitionError(SloError, InvalidArgumentError):
    """An SLO definition field is malformed; the message names it and why."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid SLO {field}: {problem}")
        self.field = field
        self.problem = problem


class InvalidObjectiveError(InvalidSloDefinitionError):
    """The objective, or a burn-rate threshold it makes unreachable, is out of range."""


class InvalidWindowError(InvalidSloDefinitionError):
    """The SLO window and the alerting windows do not nest (short < long <= window)."""


class InvalidOutcomeError(SloError, InvalidArgumentError):
    """A reported outcome or count is impossible (negative latency, naive time...)."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"invalid outcome: {problem}")
        self.problem = problem


class SloNotFoundError(SloError, NotFoundError):
    """No SLO with this id exists for the tenant."""

    def __init__(self, slo_id: str) -> None:
        super().__init__(f"SLO {slo_id} not found")
        self.slo_id = slo_id


class SloAlreadyExistsError(SloError, AlreadyExistsError):
    """An SLO with this id exists already."""

    def __init__(self, slo_id: str) -> None:
        super().__init__(f"SLO {slo_id} already exists")
        self.slo_id = slo_id


class NoSloForVersionError(SloError, NotFoundError):
    """Outcomes were reported for a plugin version that has no SLO in the tenant."""

    def __init__(self, plugin: str, version: str) -> None:
        super().__init__(f"no SLO for {plugin} version {version}; create one first")
        self.plugin = plugin
        self.version = version


class SloUpdateRefusedError(SloError, FailedPreconditionError):
    """The change cannot apply to the SLO as it stands (its counts would not fit)."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"SLO cannot be changed so: {problem}")


class TemplateNotFoundError(SloError, NotFoundError):
    """No SLO template of this name exists for the tenant."""

    def __init__(self, name: str) -> None:
        super().__init__(f"SLO template {name} not found")
        self.name = name


class TemplateAlreadyExistsError(SloError, AlreadyExistsError):
    """An SLO template of this name exists already."""

    def __init__(self, name: str) -> None:
        super().__init__(f"SLO template {name} already exists")
        self.name = name


class OpenSloError(SloError, InvalidArgumentError):
    """An OpenSLO document is malformed or unsupported; the message names the field path."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class PullError(SloError, UnavailableError):
    """A pulled SLI's source could not be read."""


class InvalidRulesError(SloError, InvalidArgumentError):
    """Prometheus rules cannot be generated as asked; the message names the field and why."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid rules {field}: {problem}")
        self.field = field
        self.problem = problem


class InvalidBreakerError(SloError, InvalidArgumentError):
    """A breaker's configuration, or a request about one, is malformed; names the field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid breaker {field}: {problem}")
        self.field = field
        self.problem = problem


class BreakerNotFoundError(SloError, NotFoundError):
    """No breaker with this id (or for this plugin version) exists for the tenant."""

    def __init__(self, what: str) -> None:
        super().__init__(f"breaker {what} not found")
        self.what = what


class IllegalBreakerTransitionError(SloError, FailedPreconditionError):
    """The breaker cannot go from its state to the one asked (resilience4j's table)."""

    def __init__(self, breaker_id: str, from_state: str, to_state: str) -> None:
        super().__init__(f"breaker {breaker_id} cannot go from {from_state} to {to_state}")
        self.from_state = from_state
        self.to_state = to_state
