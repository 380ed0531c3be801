"""Checks on request fields made before any transaction opens, so bad input changes nothing.

Tenant ids follow the kernel's rule (`portico_common.tenants.require_tenant_id`);
plugin names and versions its npm rule (`portico_common.npm`): an SLO is about a
version npm could publish, the one a rollout serves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from portico_common.npm import package_name_problem, shown, version_problem
from portico_slo.domain.batch import OutcomeBatch
from portico_slo.errors import InvalidOutcomeError, InvalidSloDefinitionError

MAX_OUTCOMES_PER_REPORT = 10_000
# Rollout ids and other names: as long as npm lets a package name be.
MAX_NAME_LENGTH = 214


@dataclass(frozen=True, slots=True)
class ReportedOutcome:
    """One request a plugin version served, as a client reports it."""

    success: bool
    latency_ms: int
    # When it happened; None means when it is reported.
    at: datetime | None = None


def check_plugin_version(plugin: str, version: str) -> None:
    """A valid npm package name and one exact version of it; the error names the field."""
    check_plugin(plugin)
    check_version(version)


def check_plugin(plugin: str) -> None:
    problem = package_name_problem(plugin)
    if problem is not None:
        raise InvalidSloDefinitionError("plugin", problem)


def check_version(version: str) -> None:
    problem = version_problem(version)
    if problem is not None:
        raise InvalidSloDefinitionError("version", f"{shown(version)}: {problem}")


def check_name(field: str, value: str) -> None:
    """A name such as a rollout id: 1..214 printable characters without spaces."""
    if not value or len(value) > MAX_NAME_LENGTH:
        raise InvalidSloDefinitionError(field, f"must be 1..{MAX_NAME_LENGTH} characters")
    if not value.isprintable() or any(c.isspace() for c in value):
        raise InvalidSloDefinitionError(field, f"{value!r} has spaces or control characters")


def check_outcomes(outcomes: Sequence[ReportedOutcome]) -> None:
    _check_count(len(outcomes))
    for index, outcome in enumerate(outcomes):
        if outcome.latency_ms < 0:
            raise InvalidOutcomeError(f"outcome {index} has a negative latency")
        if outcome.at is not None and outcome.at.utcoffset() is None:
            raise InvalidOutcomeError(f"outcome {index} has a time without a timezone")


def as_batch(outcomes: Sequence[ReportedOutcome] | OutcomeBatch) -> OutcomeBatch:
    """The outcomes of a report as a checked batch; the error names the first bad one."""
    if isinstance(outcomes, OutcomeBatch):
        _check_count(len(outcomes))
        if outcomes.latencies_ms and min(outcomes.latencies_ms) < 0:
            index = next(i for i, ms in enumerate(outcomes.latencies_ms) if ms < 0)
            raise InvalidOutcomeError(f"outcome {index} has a negative latency")
        return outcomes
    check_outcomes(outcomes)
    return OutcomeBatch.of((o.success, o.latency_ms, o.at) for o in outcomes)


def _check_count(count: int) -> None:
    if not count:
        raise InvalidOutcomeError("a report needs at least one outcome")
    if count > MAX_OUTCOMES_PER_REPORT:
        raise InvalidOutcomeError(
            f"{count} outcomes in one report; at most {MAX_OUTCOMES_PER_REPORT} allowed"
        )
