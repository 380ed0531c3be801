"""The trust score: five factors, each 0-100 with the evidence behind it.

Pure and deterministic: every input, including "now", is passed in, points
are integers from fixed tables, and the weighted mean is integer arithmetic
(half rounds up). Equal inputs give an equal score and an equal
`inputs_digest` (sha256 of the canonical inputs), so a stored verdict can be
recomputed and compared.

The signals follow OpenSSF Scorecard's checks where one fits (named in each
Evidence.scorecard_check): Signed-Releases (signatures, provenance),
Vulnerabilities (open advisories), Maintained (recent activity, archived or
deprecated), CI-Tests, SAST (lint/static analysis), License,
Security-Policy, Contributors. Scorecard has no check for adoption, typing,
docs or release regularity; those signals are ours and say so (empty check).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime

from portico_security.trust.domain.advisories import Advisory
from portico_security.trust.domain.scores import (
    DEFAULT_WEIGHTS,
    Evidence,
    Factor,
    PackageSignals,
    PublisherEvidence,
    TrustInputs,
    TrustScore,
    TrustWeights,
)


def score_trust(inputs: TrustInputs, weights: TrustWeights = DEFAULT_WEIGHTS) -> TrustScore:
    """The weighted score and its five factors for these inputs."""
    w = weights.as_dict()
    raw = {
        "publisher": publisher_factor(inputs.publisher, inputs.now),
        "security_history": security_history_factor(inputs),
        "community": community_factor(inputs.signals),
        "quality": quality_factor(inputs.signals),
        "update_cadence": cadence_factor(inputs.signals, inputs.now),
    }
    factors = tuple(
        Factor(name=name, score=_clamp(sum(e.points for e in ev)), weight=w[name], evidence=ev)
        for name, ev in raw.items()
    )
    total = sum(w.values())
    weighted = sum(f.score * f.weight for f in factors)
    score = (2 * weighted + total) // (2 * total)  # half up, in integers
    return TrustScore(
        score=score, factors=factors, weights=weights, inputs_digest=inputs_digest(inputs, weights)
    )


def publisher_factor(evidence: PublisherEvidence, now: datetime) -> tuple[Evidence, ...]:
    age_days = None if evidence.key_created_at is None else (now - evidence.key_created_at).days
    key_points = _tier(age_days if age_days is not None and age_days >= 0 else -1, _KEY_AGE)
    # SLSA counts only with verified provenance; levels above 3 do not exist yet.
    slsa = min(evidence.slsa_level, 3) if evidence.provenance_verified else 0
    return (
        Evidence(
            "identity_verified", _yes(evidence.identity_verified), 20 * evidence.identity_verified
        ),
        Evidence(
            "signature_verified",
            _yes(evidence.signature_verified),
            25 * evidence.signature_verified,
            "Signed-Releases",
        ),
        Evidence("key_age_days", "unknown" if age_days is None else str(age_days), key_points),
        Evidence(
            "provenance_verified",
            _yes(evidence.provenance_verified),
            25 * evidence.provenance_verified,
            "Signed-Releases",
        ),
        Evidence("slsa_level", str(slsa), _SLSA[slsa], "Signed-Releases"),
    )


def security_history_factor(inputs: TrustInputs) -> tuple[Evidence, ...]:
    evidence = [Evidence("baseline", "100", 100)]
    current = [a for a in inputs.advisories if a.withdrawn is None]
    open_ = [a for a in current if a.affects(inputs.plugin, inputs.version) is not None]
    open_ids = {a.id for a in open_}
    past = [a for a in current if a.id not in open_ids]
    for advisory in sorted(open_, key=lambda a: a.id):
        label = advisory.severity.label
        evidence.append(
            Evidence(f"open:{advisory.id}", label, -_OPEN_PENALTY[label], "Vulnerabilities")
        )
    dependency_points = sum(_OPEN_PENALTY[m.severity.label] // 2 for m in inputs.dependency_matches)
    if inputs.dependency_matches:
        ids = sorted({f"{m.advisory_id}@{m.package}" for m in inputs.dependency_matches})
        evidence.append(
            Evidence(
                "open_in_dependencies",
                ", ".join(ids),
                -min(40, dependency_points),
                "Vulnerabilities",
            )
        )
    if past:
        evidence.append(
            Evidence("past_advisories", str(len(past)), -min(20, 5 * len(past)), "Vulnerabilities")
        )
    days = _fix_days(past, inputs)
    if days:
        median = sorted(days)[(len(days) - 1) // 2]
        points = 0 if median <= 30 else -5 if median <= 90 else -10
        evidence.append(Evidence("median_days_to_fix", str(median), points))
    elif past:
        evidence.append(Evidence("median_days_to_fix", "unknown", 0))
    return tuple(evidence)


def community_factor(signals: PackageSignals | None) -> tuple[Evidence, ...]:
    if signals is None:
        return (Evidence("registry_signals", "none", 0),)
    return (
        Evidence(
            "weekly_downloads",
            str(signals.weekly_downloads),
            _tier(signals.weekly_downloads, _DOWNLOADS),
        ),
        Evidence("dependents", str(signals.dependents), _tier(signals.dependents, _DEPENDENTS)),
        Evidence("stars", str(signals.stars), _tier(signals.stars, _STARS)),
        Evidence(
            "contributors",
            str(signals.contributors),
            _tier(signals.contributors, _CONTRIBUTORS),
            "Contributors",
        ),
    )


def quality_factor(signals: PackageSignals | None) -> tuple[Evidence, ...]:
    if signals is None:
        return (Evidence("registry_signals", "none", 0),)
    checks = (
        Evidence("tests", _yes(signals.has_tests), 20 * signals.has_tests, "CI-Tests"),
        Evidence("ci", _yes(signals.has_ci), 10 * signals.has_ci, "CI-Tests"),
        Evidence("lint", _yes(signals.has_lint), 10 * signals.has_lint, "SAST"),
        Evidence("types", _yes(signals.has_types), 15 * signals.has_types),
        Evidence("docs", _yes(signals.has_docs), 15 * signals.has_docs),
        Evidence("license", signals.license or "none", 10 * bool(signals.license), "License"),
        Evidence(
            "security_policy",
            _yes(signals.security_policy),
            10 * signals.security_policy,
            "Security-Policy",
        ),
        Evidence("repository", signals.repository or "none", 10 * bool(signals.repository)),
    )
    if signals.deprecated or signals.archived:
        gained = sum(e.points for e in checks)
        state = "deprecated" if signals.deprecated else "archived"
        return (*checks, Evidence("unmaintained", state, -gained, "Maintained"))
    return checks


def cadence_factor(signals: PackageSignals | None, now: datetime) -> tuple[Evidence, ...]:
    if signals is None:
        return (Evidence("registry_signals", "none", 0),)
    # A release dated after "now" is not known yet; ignoring it keeps the score a function of now.
    dates = sorted(r.published_at for r in signals.releases if r.published_at <= now)
    if not dates:
        return (Evidence("releases", "0", 0, "Maintained"),)
    since = (now - dates[-1]).days
    last_year = sum(1 for d in dates if (now - d).days <= 365)
    evidence = [
        Evidence("days_since_release", str(since), _tier_down(since, _RECENCY), "Maintained"),
        Evidence("releases_last_365_days", str(last_year), _tier(last_year, _YEARLY), "Maintained"),
    ]
    recent = dates[-11:]
    if len(recent) >= 2:
        gap = max((b - a).days for a, b in itertools.pairwise(recent))
        evidence.append(Evidence("longest_gap_days", str(gap), _tier_down(gap, _GAPS)))
    else:
        evidence.append(Evidence("longest_gap_days", "unknown", 0))
    return tuple(evidence)


def inputs_digest(inputs: TrustInputs, weights: TrustWeights) -> str:
    """sha256 over the canonical JSON of everything the score depends on."""
    canonical = {
        "plugin": inputs.plugin,
        "version": inputs.version,
        "now": inputs.now.isoformat(),
        "publisher": asdict(inputs.publisher),
        "signals": None if inputs.signals is None else asdict(inputs.signals),
        "advisories": sorted((a.id, a.modified.isoformat()) for a in inputs.advisories),
        "dependency_matches": sorted(
            (m.advisory_id, m.package, m.version) for m in inputs.dependency_matches
        ),
        "weights": weights.as_dict(),
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=_json_default)
    return hashlib.sha256(text.encode()).hexdigest()


# (threshold, points), highest threshold first: the first one reached wins.
_KEY_AGE = ((365, 15), (90, 10), (30, 5))
_SLSA = {0: 0, 1: 5, 2: 10, 3: 15}
_DOWNLOADS = ((100_000, 40), (10_000, 30), (1_000, 20), (100, 10), (1, 5))
_DEPENDENTS = ((1_000, 25), (100, 18), (10, 10), (1, 5))
_STARS = ((1_000, 20), (100, 14), (10, 7), (1, 2))
# Scorecard's Contributors check counts organizations; we count people.
_CONTRIBUTORS = ((10, 15), (3, 10), (2, 5))
_YEARLY = ((6, 25), (3, 18), (1, 10))
# (at most this many days, points), lowest first.
_RECENCY = ((90, 60), (180, 45), (365, 25), (730, 10))
_GAPS = ((180, 15), (365, 8))
_OPEN_PENALTY = {"CRITICAL": 60, "HIGH": 40, "MEDIUM": 25, "LOW": 10, "NONE": 0, "UNKNOWN": 25}


def _tier(value: int, table: Sequence[tuple[int, int]]) -> int:
    return next((points for threshold, points in table if value >= threshold), 0)


def _tier_down(value: int, table: Sequence[tuple[int, int]]) -> int:
    return next((points for limit, points in table if value <= limit), 0)


def _fix_days(past: Sequence[Advisory], inputs: TrustInputs) -> list[int]:
    if inputs.signals is None:
        return []
    released = {r.version: r.published_at for r in inputs.signals.releases}
    days = []
    for advisory in past:
        entry = next((a for a in advisory.affected if a.package == inputs.plugin), None)
        if entry is None or advisory.published is None:
            continue
        fixes = [released[v] for v in entry.fixed_versions if v in released]
        if fixes:
            days.append(max(0, (min(fixes) - advisory.published).days))
    return days


def _clamp(value: int) -> int:
    return max(0, min(100, value))


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not serializable: {type(value).__name__}")
