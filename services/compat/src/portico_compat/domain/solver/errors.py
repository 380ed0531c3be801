"""Errors of the dependency solver, each in the kernel category its gRPC status comes from."""

from __future__ import annotations

from portico_common.errors import InvalidArgumentError, ResourceExhaustedError, UnavailableError
from portico_compat.errors import CompatError


class SolverInputError(CompatError, InvalidArgumentError):
    """The solve request itself is malformed (empty, invalid range, duplicate)."""


class SolverBudgetExceededError(CompatError, ResourceExhaustedError):
    """The solver stopped because a budget ran out; the answer would be unbounded."""

    def __init__(self, budget: str, limit: float, rounds: int, steps: int, seconds: float) -> None:
        super().__init__(
            f"dependency solving exceeded its {budget} budget ({limit:g}) after {rounds} rounds,"
            f" {steps} catalog look-ups and {seconds:.3f}s; the catalog or the ranges are too"
            " wide to decide within budget (narrow the request or raise the budget)"
        )
        self.budget = budget
        self.limit = limit
        self.rounds = rounds
        self.steps = steps
        self.seconds = seconds


class CatalogError(CompatError, UnavailableError):
    """The package catalog could not be read (bad file, registry unreachable)."""


class CatalogBudgetExceededError(CompatError, ResourceExhaustedError):
    """The catalog refused to fetch more packages than its budget allows."""
