"""Errors of the dependency solver (gRPC status names in `code`)."""

from __future__ import annotations

from portico_compat.errors import CompatError


class SolverInputError(CompatError):
    """The solve request itself is malformed (empty, invalid range, duplicate)."""

    code = "INVALID_ARGUMENT"


class SolverBudgetExceededError(CompatError):
    """The solver stopped because a budget ran out; the answer would be unbounded."""

    code = "RESOURCE_EXHAUSTED"

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


class CatalogError(CompatError):
    """The package catalog could not be read (bad file, registry unreachable)."""

    code = "UNAVAILABLE"


class CatalogBudgetExceededError(CompatError):
    """The catalog refused to fetch more packages than its budget allows."""

    code = "RESOURCE_EXHAUSTED"
