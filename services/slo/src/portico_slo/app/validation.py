"""Checks on request fields made before any transaction opens, so bad input changes nothing.

Tenant ids follow the kernel's rule (`portico_common.tenants.require_tenant_id`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from portico_slo.errors import InvalidOutcomeError, InvalidSloDefinitionError

# npm's limit on package names; versions get the same generous room.
MAX_NAME_LENGTH = 214
MAX_OUTCOMES_PER_REPORT = 10_000


@dataclass(frozen=True, slots=True)
class ReportedOutcome:
    """One request a plugin version served, as a client reports it."""

    success: bool
    latency_ms: int
    # When it happened; None means when it is reported.
    at: datetime | None = None


def check_name(field: str, value: str) -> None:
    """A plugin name or version: 1..214 printable characters without spaces."""
    if not value or len(value) > MAX_NAME_LENGTH:
        raise InvalidSloDefinitionError(field, f"must be 1..{MAX_NAME_LENGTH} characters")
    if not value.isprintable() or any(c.isspace() for c in value):
        raise InvalidSloDefinitionError(field, f"{value!r} has spaces or control characters")


def check_outcomes(outcomes: Sequence[ReportedOutcome]) -> None:
    if not outcomes:
        raise InvalidOutcomeError("a report needs at least one outcome")
    if len(outcomes) > MAX_OUTCOMES_PER_REPORT:
        raise InvalidOutcomeError(
            f"{len(outcomes)} outcomes in one report; at most {MAX_OUTCOMES_PER_REPORT} allowed"
        )
    for index, outcome in enumerate(outcomes):
        if outcome.latency_ms < 0:
            raise InvalidOutcomeError(f"outcome {index} has a negative latency")
        if outcome.at is not None and outcome.at.utcoffset() is None:
            raise InvalidOutcomeError(f"outcome {index} has a time without a timezone")
