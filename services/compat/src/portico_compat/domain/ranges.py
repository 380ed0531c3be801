"""npm version-range semantics, on top of the node-semver port `nodesemver`.

`nodesemver` (PyPI node-semver 0.9.1) parses npm ranges the way npm does, and
we keep it for that: no hand-written range grammar here. Two of its answers
differ from npm's node-semver 7.x, and this module corrects both:

1. An invalid version makes `nodesemver.satisfies` raise `ValueError`, and its
   loose mode "recovers" strings such as `1.2` that node-semver rejects.
   node-semver answers `false`; so do we, with the reason.

2. `include_prerelease` is implemented in `nodesemver` by making a prerelease
   version compare *equal* to its release (`SemVer.compare_pre` returns 0).
   That is as if every bound were `X.Y.Z-0`, the lowest prerelease. node-semver
   7.x keeps the ordinary ordering and instead lowers only the bounds a range
   *implies* to `-0` (X-ranges, partial carets and tildes, hyphen ends, and
   every implied upper bound), while a version the range names in full stays
   exact. So with prereleases included `^1.0.0` is `>=1.0.0 <2.0.0-0` and does
   not admit `1.0.0-rc1`; `^0.0.3` is `>=0.0.3 <0.0.4-0` (npm/node-semver#872);
   `~1.1` is `>=1.1.0-0 <1.2.0-0` (#878); explicit comparators (`>=1.0.0`,
   `<2.0.0`, `>=1.2.3-rc2`) keep their exact meaning. We therefore take
   `nodesemver`'s own desugaring of each comparator, lower the implied bounds
   to `-0` as node-semver does, and compare with the ordinary ordering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import nodesemver

from portico_compat.errors import InvalidRangeError, InvalidVersionError

# node-semver refuses longer version strings (MAX_LENGTH in internal/constants.js).
MAX_VERSION_LENGTH = 256
# node-semver refuses components a JavaScript number cannot hold exactly.
_MAX_SAFE_INTEGER = 2**53 - 1
# The `||` split node-semver and nodesemver both apply before anything else.
_ALTERNATIVES = re.compile(r"\s*\|\|\s*")
_LOWEST_PRERELEASE = "-0"

# nodesemver has no type hints; its SemVer, Range and Comparator are opaque here.
_SemVer = Any
_Comparator = Any


@dataclass(frozen=True, slots=True)
class RangeCheck:
    """Whether a version satisfies a range, and why (or why not)."""

    ok: bool
    reason: str


def version_problem(version: str, *, loose: bool = False) -> str | None:
    """Return why `version` is not a valid npm semver version, or None if it is."""
    try:
        _parse_version(version, loose=loose)
    except ValueError as error:
        return str(error)
    return None


def range_problem(range_: str, *, loose: bool = False) -> str | None:
    """Return why `range_` is not a valid npm range, or None if it is."""
    try:
        nodesemver.make_range(range_, loose)
    except ValueError as error:
        return str(error)
    return None


def validate_version(version: str, *, loose: bool = False) -> str:
    """Return `version` unchanged, or raise InvalidVersionError saying what is wrong."""
    problem = version_problem(version, loose=loose)
    if problem is not None:
        raise InvalidVersionError(version, problem)
    return version


def validate_range(range_: str, *, loose: bool = False) -> str:
    """Return `range_` unchanged, or raise InvalidRangeError saying what is wrong."""
    problem = range_problem(range_, loose=loose)
    if problem is not None:
        raise InvalidRangeError(range_, problem)
    return range_


def satisfies(
    version: str, range_: str, *, loose: bool = False, include_prerelease: bool = False
) -> RangeCheck:
    """Answer node-semver 7.x's `satisfies(version, range, {loose, includePrerelease})`.

    Never raises: an invalid version or range is a negative answer whose reason
    says what is invalid.
    """
    # Values decoded from JSON reach here untyped (npm's own fixtures pass
    # `false`); node-semver answers false for them, and so must we.
    given: tuple[object, object] = (version, range_)
    if not isinstance(given[0], str):
        return RangeCheck(ok=False, reason=f"invalid version {version!r}: not a string")
    if not isinstance(given[1], str):
        return RangeCheck(ok=False, reason=f"invalid range {range_!r}: not a string")
    try:
        parsed = _parse_version(version, loose=loose)
    except ValueError as error:
        return RangeCheck(ok=False, reason=f"invalid version {version!r}: {error}")
    try:
        compiled = nodesemver.make_range(range_, loose)
    except ValueError as error:
        return RangeCheck(ok=False, reason=f"invalid range {range_!r}: {error}")

    return _verdict(version, range_, parsed, compiled, include_prerelease=include_prerelease)


def _verdict(
    version: str, range_: str, parsed: _SemVer, compiled: Any, *, include_prerelease: bool
) -> RangeCheck:
    """Test a parsed version against a parsed range and word the answer."""
    if include_prerelease:
        sets = _sets_including_prereleases(range_, loose=compiled.loose)
        ok = _within_bounds(sets, parsed)
    else:
        ok = bool(compiled.test(parsed))
    if ok:
        return RangeCheck(ok=True, reason=f"{version} satisfies {range_!r}")
    if not include_prerelease and parsed.prerelease and _within_bounds(compiled.set, parsed):
        return RangeCheck(
            ok=False,
            reason=(
                f"{version} is a prerelease: it satisfies {range_!r} only where the range "
                "names a prerelease of the same major.minor.patch"
            ),
        )
    return RangeCheck(ok=False, reason=f"{version} does not satisfy {range_!r}")


def _parse_version(version: str, *, loose: bool) -> _SemVer:
    """Parse like node-semver's `new SemVer(version, {loose})`, raising ValueError."""
    if len(version) > MAX_VERSION_LENGTH:
        raise ValueError(f"longer than {MAX_VERSION_LENGTH} characters")
    # nodesemver's loose mode falls back to a "recovery" pattern that accepts
    # `1.2` or `1`; node-semver does not, so require its own grammar first.
    grammar = nodesemver.regexp[nodesemver.LOOSE if loose else nodesemver.FULL]
    if grammar.search(version.strip()) is None:
        expected = "MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]"
        raise ValueError(f"not a semantic version ({'loose ' if loose else ''}{expected})")
    parsed = nodesemver.make_semver(version, loose)
    for part in ("major", "minor", "patch"):
        if getattr(parsed, part) > _MAX_SAFE_INTEGER:
            raise ValueError(f"{part} version exceeds {_MAX_SAFE_INTEGER}")
    return parsed


def _within_bounds(sets: list[list[_Comparator]], version: _SemVer) -> bool:
    """Whether `version` passes every comparator of some set, ignoring the prerelease rule."""
    return any(all(c.test(version) for c in comparators) for comparators in sets)


def _sets_including_prereleases(range_: str, *, loose: bool) -> list[list[_Comparator]]:
    """The comparator sets node-semver 7.x builds for `range_` with includePrerelease."""
    sets: list[list[_Comparator]] = []
    for alternative in _ALTERNATIVES.split(range_):
        comparators = [
            nodesemver.make_comparator(text, loose)
            for text in _comparators_including_prereleases(alternative.strip(), loose=loose)
        ]
        # As in nodesemver's Range: a set that loose mode emptied is dropped.
        if comparators:
            sets.append(comparators)
    return sets


def _comparators_including_prereleases(alternative: str, *, loose: bool) -> list[str]:
    """Desugar one `||` alternative with nodesemver, then lower implied bounds to `-0`.

    Mirrors the steps of nodesemver's `Range.parse_range` so that each comparator
    is still tied to the token it came from: only then can we tell an implied
    bound (`^1.2`, `1.x`, `~1.1`) from one the range spells out (`^1.2.3`, `>=1.2.3`).
    """
    hyphen = nodesemver.regexp[
        nodesemver.HYPHENRANGELOOSE if loose else nodesemver.HYPHENRANGE
    ].search(alternative)
    if hyphen is not None:
        texts = _hyphen_including_prereleases(hyphen)
    else:
        texts = []
        for token in _tokens(alternative):
            partial = _implied_lower_bound(token, loose=loose)
            desugared = str(nodesemver.parse_comparator(token, loose))
            for text in re.split(r"\s+", desugared):
                texts.append(_lower_implied_bound(text, partial=partial, loose=loose))
    if loose:
        # nodesemver (like node-semver) silently drops what loose mode cannot read.
        grammar = nodesemver.regexp[nodesemver.COMPARATORLOOSE]
        texts = [text for text in texts if grammar.search(text)]
    return texts


def _tokens(alternative: str) -> list[str]:
    """Split an alternative into comparator tokens, exactly as nodesemver does."""
    text = nodesemver.regexp[nodesemver.COMPARATORTRIM].sub(
        nodesemver.comparatorTrimReplace, alternative
    )
    text = nodesemver.regexp[nodesemver.TILDETRIM].sub(nodesemver.tildeTrimReplace, text)
    text = nodesemver.regexp[nodesemver.CARETTRIM].sub(nodesemver.caretTrimReplace, text)
    return " ".join(re.split(r"\s+", text)).split(" ")


def _implied_lower_bound(token: str, *, loose: bool) -> bool | None:
    """None for an explicit comparator; for sugar, whether its lower bound is implied.

    The bound is implied when the version is partial (`^1.2`, `~1`, `1.x`).
    """
    kinds = (
        (nodesemver.CARETLOOSE, nodesemver.TILDELOOSE)
        if loose
        else (nodesemver.CARET, nodesemver.TILDE)
    )
    for kind in kinds:
        match = nodesemver.regexp[kind].search(token)
        if match is not None:
            _major, minor, patch = match.group(1, 2, 3)
            return bool(nodesemver.is_x(minor) or nodesemver.is_x(patch))
    xrange = nodesemver.regexp[nodesemver.XRANGELOOSE if loose else nodesemver.XRANGE].search(token)
    if xrange is not None:
        _gtlt, major, minor, patch = xrange.group(1, 2, 3, 4)
        if any(nodesemver.is_x(part) for part in (major, minor, patch)):
            return True
    return None


def _lower_implied_bound(text: str, *, partial: bool | None, loose: bool) -> str:
    """Append `-0` to a desugared comparator where node-semver 7.x would have it."""
    if partial is None or not text:
        return text
    comparator = nodesemver.make_comparator(text, loose)
    if comparator.semver.prerelease:
        # `^1.2.3-beta` keeps `>=1.2.3-beta`: the range names that prerelease.
        return text
    if comparator.operator == "<":
        # Every upper bound a caret, tilde or X-range implies is `<X.Y.Z-0`,
        # so that `2.x` does not admit `3.0.0-pre.0`.
        return text + _LOWEST_PRERELEASE
    if comparator.operator == ">=" and partial:
        # `1.x`, `^1.2`, `~1.1`: the zeros were filled in, so the prereleases
        # of that release belong to the range. `^1.2.3` names 1.2.3 exactly.
        return text + _LOWEST_PRERELEASE
    return text


def _hyphen_including_prereleases(match: re.Match[str]) -> list[str]:
    """Desugar `A - B` like node-semver 7.x's hyphenReplace with includePrerelease."""
    from_major, from_minor, from_patch, from_pre, from_build = match.group(2, 3, 4, 5, 6)
    texts = str(nodesemver.hyphen_replace(match)).split()
    if not texts:
        return [""]
    from_partial = any(nodesemver.is_x(part) for part in (from_major, from_minor, from_patch))
    result = []
    for text in texts:
        lowered = text
        if text.startswith(">="):
            # node-semver writes `>=A-0` unless A names a prerelease. When A carries
            # build metadata the `-0` lands inside the build (`1.2.3+b-0`) and has
            # no effect, so we leave such a bound exact, as node-semver does in effect.
            if from_partial or not (from_pre or from_build):
                lowered += _LOWEST_PRERELEASE
        elif text.startswith("<") and not text.startswith("<="):
            # A partial upper end (`1 - 2`) means `<3.0.0-0`. A full one stays
            # `<=B`, which admits exactly the versions of node-semver's `<B+1-0`.
            lowered += _LOWEST_PRERELEASE
        result.append(lowered)
    return result
