"""Dependency solving for a tenant's host: which versions fit together, and why not.

Algorithm: resolvelib 1.2.1 (the resolver inside pip, maintained by the
Python packaging authority, released 2025-10) with an explanation layer of
our own on top of its `ResolutionImpossible` causes.

Why not a PubGrub port from PyPI: `mixology` (the PubGrub behind Poetry's
early solver) has had no release since 2019 and no type hints; `versol`,
`nab-resolver` and `pubgrub-py` are young single-maintainer projects. A
dependency solver sits on the path of every install, so we take the one with
the widest production use (every `pip install`), strict typing (`py.typed`)
and a steady release history, and write the PubGrub-style wording ourselves:
resolvelib already tells us which requirements clashed and who asked for
each; `explain` finds the smallest clashing pair, traces each side to the
root that pulled it in, and searches the catalog for the nearest versions
that would not clash ("upgrade C to >= 2.0.0 or stay on A 1.9.0").

Model: a host runs one version of each package it solves (that is mandatory
for `@backstage/*` core packages and anything shared as a peer); an ordinary
dependency the catalog does not know is left to npm, which can nest a private
copy. Budgets: resolvelib's `max_rounds` plus a wall-clock deadline checked on
every catalog look-up; running out raises SolverBudgetExceededError
(RESOURCE_EXHAUSTED) with the work done so far, never a hang.
"""

from portico_compat.domain.solver.model import (
    Budget,
    ChangeKind,
    Explanation,
    PackageCatalog,
    PackageVersion,
    ResolvedPackage,
    SolveOutcome,
    UpgradeImpact,
)
from portico_compat.domain.solver.solve import predict_upgrade_impact, solve

__all__ = [
    "Budget",
    "ChangeKind",
    "Explanation",
    "PackageCatalog",
    "PackageVersion",
    "ResolvedPackage",
    "SolveOutcome",
    "UpgradeImpact",
    "predict_upgrade_impact",
    "solve",
]
