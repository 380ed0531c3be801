"""OSV documents parsed into advisories, refusing anything off the schema precisely.

Only npm entries are kept (others are validated, then dropped). Severity
comes from the CVSS vectors (v3.x and v4.0, scored by the `cvss` library);
without one, GitHub's `database_specific.severity` label is kept with
score 0.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cvss import CVSS3, CVSS4, CVSSError  # type: ignore[import-untyped]

from portico_common.npm import version_problem
from portico_security.trust.domain.advisories import (
    UNKNOWN_SEVERITY,
    Advisory,
    Affected,
    Event,
    Range,
    Severity,
)
from portico_security.trust.errors import InvalidAdvisoryError

ECOSYSTEM = "npm"
RANGE_TYPES = frozenset({"SEMVER", "ECOSYSTEM", "GIT"})
EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")
LABELS = ("NONE", "LOW", "MEDIUM", "HIGH", "CRITICAL")
# A document bigger than this is not an advisory but an attack on the parser.
MAX_DOCUMENT_BYTES = 1024 * 1024
MAX_ID_LENGTH = 256
# OSV documents nest about six levels; database_specific may add a few.
MAX_DEPTH = 32


def parse_document(raw: str | bytes, origin: str) -> Advisory:
    """An Advisory from one OSV JSON document, or InvalidAdvisoryError naming the place."""
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise InvalidAdvisoryError(origin, "$", f"larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidAdvisoryError(origin, "$", f"not JSON: {exc}") from exc
    except RecursionError as exc:
        raise InvalidAdvisoryError(origin, "$", f"nested deeper than {MAX_DEPTH} levels") from exc
    return parse_osv(data, origin)


def parse_osv(data: object, origin: str) -> Advisory:
    """An Advisory from a decoded OSV document; npm entries only."""
    doc = _obj(data, origin, "$")
    advisory_id = _text(doc.get("id"), origin, "$.id")
    if len(advisory_id) > MAX_ID_LENGTH:
        raise InvalidAdvisoryError(origin, "$.id", f"longer than {MAX_ID_LENGTH} characters")
    # PostgreSQL cannot hold NUL, and absurd nesting is an attack on every later reader:
    # refuse both here, precisely, not as a failed INSERT.
    problem = _structure_problem(doc)
    if problem is not None:
        raise InvalidAdvisoryError(origin, "$", problem)
    where = f"{origin} ({advisory_id})"
    modified = _time(doc.get("modified"), where, "$.modified")
    published = _opt_time(doc.get("published"), where, "$.published")
    withdrawn = _opt_time(doc.get("withdrawn"), where, "$.withdrawn")
    aliases = tuple(
        _text(a, where, f"$.aliases[{i}]") for i, a in enumerate(_list(doc, "aliases", where))
    )
    summary = doc.get("summary", "")
    if not isinstance(summary, str):
        raise InvalidAdvisoryError(where, "$.summary", "must be a string")
    affected = []
    for i, item in enumerate(_list(doc, "affected", where)):
        entry = _affected(item, where, f"$.affected[{i}]")
        if entry is not None:
            affected.append(entry)
    if not affected:
        raise InvalidAdvisoryError(where, "$.affected", f"names no {ECOSYSTEM} package")
    return Advisory(
        id=advisory_id,
        modified=modified,
        summary=summary,
        aliases=aliases,
        published=published,
        withdrawn=withdrawn,
        severity=_severity(doc, where),
        affected=tuple(affected),
        document=doc,
    )


def severity_label(score: float) -> str:
    """CVSS qualitative rating of a base score (the same bands in v3.x and v4.0)."""
    if score == 0:
        return "NONE"
    if score < 4.0:
        return "LOW"
    if score < 7.0:
        return "MEDIUM"
    if score < 9.0:
        return "HIGH"
    return "CRITICAL"


def valid_version(version: str) -> bool:
    """True for an exact semantic version as npm publishes them."""
    return version_problem(version) is None


def _affected(item: object, origin: str, path: str) -> Affected | None:
    entry = _obj(item, origin, path)
    package = _obj(entry.get("package"), origin, f"{path}.package")
    ecosystem = _text(package.get("ecosystem"), origin, f"{path}.package.ecosystem")
    name = _text(package.get("name"), origin, f"{path}.package.name")
    ranges = tuple(
        _range(r, origin, f"{path}.ranges[{i}]")
        for i, r in enumerate(_list(entry, "ranges", origin, path))
    )
    versions = frozenset(
        _version(v, origin, f"{path}.versions[{i}]")
        for i, v in enumerate(_list(entry, "versions", origin, path))
    )
    # Other ecosystems are validated above but not kept: we only install npm.
    if ecosystem != ECOSYSTEM:
        return None
    if not ranges and not versions:
        raise InvalidAdvisoryError(origin, path, "has neither ranges nor versions")
    return Affected(package=name, ranges=ranges, versions=versions)


def _range(item: object, origin: str, path: str) -> Range:
    data = _obj(item, origin, path)
    kind = data.get("type")
    if kind not in RANGE_TYPES:
        raise InvalidAdvisoryError(
            origin, f"{path}.type", f"{kind!r} is not one of {', '.join(sorted(RANGE_TYPES))}"
        )
    raw_events = data.get("events")
    if not isinstance(raw_events, list) or not raw_events:
        raise InvalidAdvisoryError(origin, f"{path}.events", "must be a non-empty list")
    events = []
    for i, raw in enumerate(raw_events):
        event = _obj(raw, origin, f"{path}.events[{i}]")
        if len(event) != 1 or next(iter(event)) not in EVENT_KINDS:
            raise InvalidAdvisoryError(
                origin, f"{path}.events[{i}]", f"needs exactly one of {', '.join(EVENT_KINDS)}"
            )
        ((event_kind, value),) = event.items()
        event_path = f"{path}.events[{i}].{event_kind}"
        if kind == "GIT":
            events.append(Event(event_kind, _text(value, origin, event_path)))
        elif event_kind == "introduced" and value == "0":
            events.append(Event(event_kind, "0"))
        else:
            events.append(Event(event_kind, _version(value, origin, event_path)))
    if not any(e.kind == "introduced" for e in events):
        raise InvalidAdvisoryError(origin, f"{path}.events", "has no 'introduced' event")
    return Range(type=str(kind), events=tuple(events))


def _severity(doc: Mapping[str, Any], origin: str) -> Severity:
    best: Severity | None = None
    for i, item in enumerate(_list(doc, "severity", origin)):
        entry = _obj(item, origin, f"$.severity[{i}]")
        kind = entry.get("type")
        vector = _text(entry.get("score"), origin, f"$.severity[{i}].score")
        try:
            if kind == "CVSS_V3":
                score = float(CVSS3(vector).base_score)
            elif kind == "CVSS_V4":
                score = float(CVSS4(vector).base_score)
            else:
                continue  # CVSS_V2 and Ubuntu ratings: superseded, not scored
        except CVSSError as exc:
            raise InvalidAdvisoryError(
                origin, f"$.severity[{i}].score", f"bad {kind} vector: {exc}"
            ) from exc
        candidate = Severity(score=score, label=severity_label(score), vector=vector)
        if best is None or candidate.score > best.score:
            best = candidate
    if best is not None:
        return best
    specific = doc.get("database_specific")
    label = specific.get("severity") if isinstance(specific, Mapping) else None
    if isinstance(label, str) and label.upper() in LABELS:
        return Severity(score=0.0, label=label.upper())
    if isinstance(label, str) and label.upper() == "MODERATE":  # GitHub's word for MEDIUM
        return Severity(score=0.0, label="MEDIUM")
    return UNKNOWN_SEVERITY


def _obj(value: object, origin: str, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidAdvisoryError(origin, path, "must be an object")
    return value


def _list(doc: Mapping[str, Any], key: str, origin: str, base: str = "$") -> list[Any]:
    value = doc.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidAdvisoryError(origin, f"{base}.{key}", "must be a list")
    return value


def _text(value: object, origin: str, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidAdvisoryError(origin, path, "must be a non-empty string")
    return value


def _version(value: object, origin: str, path: str) -> str:
    text = _text(value, origin, path)
    if not valid_version(text):
        raise InvalidAdvisoryError(origin, path, f"{text!r} is not a semantic version")
    return text


def _time(value: object, origin: str, path: str) -> datetime:
    text = _text(value, origin, path)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidAdvisoryError(origin, path, f"{text!r} is not an RFC 3339 time") from exc
    if parsed.tzinfo is None:
        raise InvalidAdvisoryError(origin, path, f"{text!r} has no time zone (RFC 3339 needs one)")
    return parsed


def _opt_time(value: object, origin: str, path: str) -> datetime | None:
    return None if value is None else _time(value, origin, path)


def _structure_problem(doc: object) -> str | None:
    """Why the decoded document cannot be stored, or None (iterative: no recursion limit)."""
    stack: list[tuple[object, int]] = [(doc, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH} levels"
        if isinstance(value, str):
            if "\x00" in value:
                return "contains a NUL character"
        elif isinstance(value, Mapping):
            stack.extend((k, depth + 1) for k in value)
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return None
