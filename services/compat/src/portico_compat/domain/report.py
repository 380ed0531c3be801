"""One compatibility report: a verdict per dimension, each with the findings behind it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum, StrEnum


class Verdict(IntEnum):
    """How a finding or a dimension came out, ordered from best to worst."""

    PASS = 1
    WARN = 2
    NEEDS_APPROVAL = 3
    FAIL = 4

    @property
    def label(self) -> str:
        """The lower-case name used in events and JSON rows ("needs_approval")."""
        return self.name.lower()


class ReportDimension(StrEnum):
    """The dimensions of a report, in the order they are checked and streamed."""

    API = "api"
    RUNTIME = "runtime"
    PERMISSIONS = "permissions"
    RESOURCES = "resources"


def worst(verdicts: Iterable[Verdict]) -> Verdict:
    """The worst of `verdicts`; PASS when there are none."""
    return max(verdicts, default=Verdict.PASS)


def blocks(verdict: Verdict) -> bool:
    """Whether a verdict keeps the plugin from going live without more (fail or approval).

    Rollout only sees `compatible`, so a check that needs an approval is not
    compatible until someone approves: failing safe rather than installing a
    plugin whose permissions no one agreed to.
    """
    return verdict >= Verdict.NEEDS_APPROVAL


@dataclass(frozen=True, slots=True)
class DimensionSummary:
    """A dimension's verdict and a one-line summary (what the event carries)."""

    dimension: ReportDimension
    verdict: Verdict
    summary: str
