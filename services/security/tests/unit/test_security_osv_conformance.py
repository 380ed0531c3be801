"""OSV range evaluation agrees with node-semver on the versions of npm's own range fixtures.

The versions come from the conformance corpus (../shared/conformance/node-semver,
npm/node-semver's test fixtures). For every pair of bounds A < B taken from it
(prereleases included), an OSV range {introduced: A, fixed: B} must affect
exactly the release versions that node-semver's `satisfies(v, ">=A <B")`
accepts, and {introduced: A, last_affected: B} those of ">=A <=B".

Prerelease *versions* are where OSV and npm ranges part ways on purpose: OSV
compares by SemVer precedence, so with `fixed: 2.0.0` the version 2.0.0-rc.1
is affected, while npm's `<2.0.0` would leave out prereleases of other
tuples (and with includePrerelease rewrites `<2.0.0` to exclude 2.0.0's own).
Those cases are pinned in test_security_advisories_domain.py instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import nodesemver
import pytest

from portico_common.npm import version_problem
from portico_security.trust.domain.advisories import Event, Range

CORPUS = Path(__file__).resolve().parents[4] / ".." / "shared" / "conformance" / "node-semver"


def corpus_versions() -> list[str]:
    data = json.loads((CORPUS / "ranges.json").read_text())
    found = {case["version"] for kind in ("include", "exclude") for case in data[kind]}
    return sorted(v for v in found if version_problem(v) is None)


VERSIONS = corpus_versions()
RELEASES = [v for v in VERSIONS if "-" not in v]
BOUNDS = VERSIONS[::5]


def test_corpus_bounds_include_prereleases() -> None:
    """The corpus offers enough versions, prerelease bounds among them, to mean something."""
    assert len(RELEASES) >= 50
    assert sum("-" in v for v in BOUNDS) >= 5


@pytest.mark.parametrize("upper_kind", ["fixed", "last_affected"])
def test_osv_ranges_match_node_semver(upper_kind: str) -> None:
    """Every (A, B, release) agrees with node-semver's satisfies on the comparator range."""
    operator = "<" if upper_kind == "fixed" else "<="
    disagreements = []
    checked = 0
    for low in BOUNDS:
        for high in BOUNDS:
            if nodesemver.compare(low, high, False) >= 0:
                continue
            osv_range = Range("SEMVER", (Event("introduced", low), Event(upper_kind, high)))
            for version in RELEASES:
                checked += 1
                expected = nodesemver.satisfies(version, f">={low} {operator}{high}", False, False)
                if osv_range.includes(version) != expected:
                    disagreements.append((low, high, version, expected))
    assert checked > 5_000
    assert disagreements == []
