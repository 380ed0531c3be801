"""Label sets, matchers and fingerprints, as Prometheus and Alertmanager define them.

A matcher compares one label's value: `=`, `!=`, `=~`, `!~`. Regular
expressions are anchored at both ends (`^(?:re)$`, Alertmanager's
`labels.NewMatcher`), and a label the set does not have has the value "".
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from portico_slo.alerting.errors import InvalidAlertingError, InvalidMatcherError

LabelSet = Mapping[str, str]

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
MAX_LABEL_VALUE = 1024


class MatchType(StrEnum):
    """A matcher's operator, spelled as in Alertmanager's configuration."""

    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


def check_label_name(name: str, field: str = "label name") -> str:
    """A Prometheus label name: a letter or underscore, then letters, digits, underscores."""
    if not _LABEL_NAME.fullmatch(name):
        raise InvalidMatcherError(field, f"{name!r} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)")
    return name


@dataclass(frozen=True, slots=True)
class Matcher:
    """One condition on a label; built checked, so a stored matcher always compiles."""

    name: str
    type: MatchType
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        check_label_name(self.name, "matcher name")
        if len(self.value) > MAX_LABEL_VALUE:
            raise InvalidMatcherError(
                "matcher value", f"{self.name}: longer than {MAX_LABEL_VALUE} characters"
            )
        if self.type in (MatchType.REGEX, MatchType.NOT_REGEX):
            try:
                compiled = re.compile(f"^(?:{self.value})$")
            except re.error as exc:
                raise InvalidMatcherError(
                    "matcher value", f"{self.name}{self.type}{self.value!r}: {exc}"
                ) from None
            object.__setattr__(self, "_regex", compiled)

    @classmethod
    def of(cls, name: str, op: str, value: str) -> Matcher:
        """A matcher from its three parts; the operator is one of = != =~ !~."""
        try:
            match_type = MatchType(op)
        except ValueError:
            raise InvalidMatcherError(
                "matcher operator", f"{op!r} is not one of =, !=, =~, !~"
            ) from None
        return cls(name, match_type, value)

    def matches(self, value: str) -> bool:
        """Whether a label value satisfies this matcher."""
        if self.type is MatchType.EQUAL:
            return value == self.value
        if self.type is MatchType.NOT_EQUAL:
            return value != self.value
        assert self._regex is not None  # noqa: S101 - set in __post_init__ for regex types
        found = self._regex.match(value) is not None
        return found if self.type is MatchType.REGEX else not found

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.name}{self.type.value}"{escaped}"'


def matches_all(matchers: Iterable[Matcher], labels: LabelSet) -> bool:
    """Every matcher holds for the label set (a missing label is the empty string)."""
    return all(m.matches(labels.get(m.name, "")) for m in matchers)


def matchers_key(matchers: Iterable[Matcher]) -> str:
    """Matchers in a canonical order, as Alertmanager prints them: `{a="1",b=~"x"}`."""
    ordered = sorted(matchers, key=lambda m: (m.name, m.type.value, m.value))
    return "{" + ",".join(str(m) for m in ordered) + "}"


def format_labels(labels: LabelSet) -> str:
    """A label set in canonical order: `{a="1", b="2"}`."""
    return "{" + ", ".join(f'{k}="{labels[k]}"' for k in sorted(labels)) + "}"


def fingerprint(labels: LabelSet) -> str:
    """A stable identity of a label set: the same labels always give the same fingerprint."""
    digest = hashlib.sha256()
    for name in sorted(labels):
        digest.update(name.encode() + b"\xff" + labels[name].encode() + b"\xff")
    return digest.hexdigest()[:16]


def check_labels(labels: LabelSet, field: str = "labels") -> dict[str, str]:
    """A label set with valid names and bounded values; empty values are dropped (Prometheus)."""
    checked: dict[str, str] = {}
    for name, value in labels.items():
        check_label_name(name, f"{field} name")
        if len(value) > MAX_LABEL_VALUE:
            raise InvalidAlertingError(field, f"{name}: longer than {MAX_LABEL_VALUE} characters")
        if value:
            checked[name] = value
    return checked


def require_aware(value: datetime, field: str) -> datetime:
    """`value`, or an error if it has no timezone (it would be ambiguous)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidAlertingError(field, "must be a timezone-aware time")
    return value
