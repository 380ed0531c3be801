"""Turn resolvelib's ResolutionImpossible causes into PubGrub-style reasons.

resolvelib reports the requirements that could not be met together, each with
the candidate that asked for it (or None for a root). We group them by the
package they constrain, find the smallest clashing set (one range nothing
matches, or two ranges no version satisfies at once), trace each party back to
the root that pulled it in, and look in the catalog for the nearest versions
of each party that would not clash: those become the suggestions.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from portico_compat.domain.solver.model import (
    Explanation,
    PackageVersion,
    Requirement,
    RequirementKind,
)
from portico_compat.domain.solver.provider import matches, newest_first

MAX_GROUPS = 3
MAX_CHAIN = 8


@dataclass(frozen=True, slots=True)
class Party:
    """One side of a clash: the requirement and who made it (None for a root)."""

    requirement: Requirement
    parent: PackageVersion | None


class Explainer:
    def __init__(
        self,
        versions: Callable[[str], Sequence[PackageVersion]],
        *,
        installed: Mapping[str, str],
        requested: Mapping[str, str],
        required_by: Mapping[str, PackageVersion],
    ) -> None:
        self._versions = versions
        self._installed = installed
        self._requested = requested
        self._required_by = required_by

    def explain(self, causes: Sequence[Party]) -> Explanation:
        groups: dict[str, list[Party]] = {}
        for cause in causes:
            groups.setdefault(cause.requirement.name, []).append(cause)
        reasons: list[str] = []
        conclusions: list[str] = []
        suggestions: list[str] = []
        broken: list[str] = []
        for name, parties in list(groups.items())[:MAX_GROUPS]:
            clash = self._smallest_clash(name, _unique(parties))
            # The side the request pulled in reads first: "A cannot be installed next to C".
            clash.sort(key=lambda p: self._root_name(p) not in self._requested)
            for party in clash:
                reasons.extend(r for r in self._chain(party) if r not in reasons)
            reasons.append(self._because(name, clash))
            conclusions.append(self._conclusion(clash))
            for party in clash:
                root = self._root_name(party)
                if root in self._installed and root not in self._requested:
                    label = f"{root} {self._installed[root]}"
                    if label not in broken:
                        broken.append(label)
            suggestions.extend(s for s in self._suggest(name, clash) if s not in suggestions)
        return Explanation(
            reasons=tuple(reasons),
            conclusion="; ".join(conclusions),
            suggestions=tuple(suggestions),
            broken_installed=tuple(broken),
        )

    def _smallest_clash(self, name: str, parties: list[Party]) -> list[Party]:
        available = self._versions(name)
        for party in parties:
            if not any(matches(v.version, party.requirement.range_) for v in available):
                return [party]
        for a, b in itertools.combinations(parties, 2):
            if not self._compatible(name, a.requirement.range_, b.requirement.range_):
                return [a, b]
        return parties

    def _compatible(self, name: str, *ranges: str) -> bool:
        return any(all(matches(v.version, r) for r in ranges) for v in self._versions(name))

    def _who(self, party: Party) -> str:
        if party.parent is not None:
            return party.parent.label
        req = party.requirement
        if req.kind is RequirementKind.INSTALLED:
            return f"installed {req.name} {self._installed.get(req.name, req.range_)}"
        return f"{req.name} {req.range_}"

    def _needs(self, party: Party) -> str:
        req = party.requirement
        verb = "needs peer" if req.kind is RequirementKind.PEER else "needs"
        if party.parent is None:
            return f"{self._who(party)} is required"
        return f"{self._who(party)} {verb} {req.name} {req.range_!s}"

    def _because(self, name: str, clash: list[Party]) -> str:
        if len(clash) == 1:
            (party,) = clash
            missing = (
                f"no version of {name} is in the catalog"
                if not self._versions(name)
                else f"no version of {name} matches {party.requirement.range_}"
            )
            return f"Because {self._needs(party)} and {missing}"
        needs = [self._needs(p) for p in clash]
        return f"Because {', '.join(needs[:-1])} and {needs[-1]}"

    def _conclusion(self, clash: list[Party]) -> str:
        who = [self._who(p) for p in clash]
        if len(who) == 1:
            return f"{who[0]} cannot be installed"
        return f"{who[0]} cannot be installed next to {' and '.join(who[1:])}"

    def _chain(self, party: Party) -> list[str]:
        """Who pulled the party's parent in, from the root down."""
        links: list[str] = []
        node = party.parent
        seen: set[str] = set()
        while node is not None and node.name not in seen and len(links) < MAX_CHAIN:
            seen.add(node.name)
            above = self._required_by.get(node.name)
            if above is None:
                break
            links.append(
                f"{above.label} depends on {node.name} {above.requirement_on(node.name)}"
                f" (resolved to {node.version})"
            )
            node = above
        return list(reversed(links))

    def _root_name(self, party: Party) -> str:
        node = party.parent
        if node is None:
            return party.requirement.name
        seen: set[str] = set()
        while node.name in self._required_by and node.name not in seen:
            seen.add(node.name)
            node = self._required_by[node.name]
        return node.name

    def _suggest(self, name: str, clash: list[Party]) -> list[str]:
        if len(clash) != 2:
            return []
        hints = [
            self._way_out(name, party, other.requirement.range_)
            for party, other in ((clash[0], clash[1]), (clash[1], clash[0]))
        ]
        # Moving what is installed forward reads first; backing off the request second.
        return sorted(
            (h for h in hints if h is not None), key=lambda h: not h.startswith("upgrade")
        )

    def _way_out(self, name: str, party: Party, other_range: str) -> str | None:
        """The nearest version of the party's package that no longer clashes."""
        if party.parent is None:
            subject, current = name, self._installed.get(name)
            fits = [v for v in self._versions(name) if matches(v.version, other_range)]
        else:
            subject, current = party.parent.name, party.parent.version
            fits = [
                v
                for v in self._versions(subject)
                if (r := v.requirement_on(name)) is None or self._compatible(name, r, other_range)
            ]
        if not fits:
            return None
        ordered = newest_first(fits)
        if subject in self._requested:
            kept = self._installed.get(subject)
            if kept is not None and any(v.version == kept for v in ordered):
                return f"stay on {subject} {kept}"
            older = [v for v in ordered if _older(v.version, current or "")]
            return f"install {subject} {older[0].version} instead" if older else None
        if current is not None:
            newer = [v for v in ordered if _older(current, v.version)]
            if newer:
                return f"upgrade {subject} to >= {newer[-1].version}"
        return None


def _older(a: str, b: str) -> bool:
    """Whether version `a` precedes version `b` (False when either is missing)."""
    if not a or not b:
        return False
    return matches(a, f"<{b}")


def _unique(parties: list[Party]) -> list[Party]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for p in parties:
        key = (p.requirement.range_, p.parent.label if p.parent else "", p.requirement.kind)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out
