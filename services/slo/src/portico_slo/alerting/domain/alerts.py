"""Alerts: a label set that fires from `starts_at` until `ends_at`, and how one is updated.

An alert's identity is its label set (the fingerprint). `ends_at` is None
while it fires; a resolved alert keeps its labels and gets the time it
resolved. Updates merge as Alertmanager's `types.Alert.Merge` does: the
younger update wins, the earliest start is kept, and the latest explicit
resolution wins when both are resolved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from portico_slo.alerting.domain.labels import LabelSet, fingerprint, require_aware


class AlertStatus(StrEnum):
    """What a notification says about an alert."""

    FIRING = "firing"
    RESOLVED = "resolved"


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    # A private copy in label order: what the caller passed may change, this does not.
    return dict(sorted(mapping.items()))


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert of a tenant, as the store and the groups hold it."""

    tenant_id: str
    labels: LabelSet
    starts_at: datetime
    updated_at: datetime
    annotations: LabelSet = field(default_factory=dict)
    ends_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", _frozen(self.labels))
        object.__setattr__(self, "annotations", _frozen(self.annotations))
        require_aware(self.starts_at, "starts_at")
        require_aware(self.updated_at, "updated_at")
        if self.ends_at is not None:
            require_aware(self.ends_at, "ends_at")

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.labels)

    def resolved_at(self, when: datetime) -> bool:
        """Whether the alert has resolved by `when` (Alertmanager's `ResolvedAt`)."""
        return self.ends_at is not None and self.ends_at <= when

    def status_at(self, when: datetime) -> AlertStatus:
        return AlertStatus.RESOLVED if self.resolved_at(when) else AlertStatus.FIRING

    def merge(self, other: Alert) -> Alert:
        """This alert updated by `other` (same labels); the younger update wins."""
        if other.fingerprint != self.fingerprint:
            raise ValueError("only alerts with the same labels merge")
        if other.updated_at < self.updated_at:
            return other.merge(self)
        older, younger = self, other
        if older.ends_at is not None and older.ends_at < younger.starts_at:
            # The older alert resolved before this one started: a new firing, not an update.
            return younger
        merged = replace(younger, starts_at=min(older.starts_at, younger.starts_at))
        if (
            younger.ends_at is not None
            and older.ends_at is not None
            and older.ends_at > younger.ends_at
        ):
            merged = replace(merged, ends_at=older.ends_at)
        return merged


def common_labels(labels: Iterable[LabelSet]) -> dict[str, str]:
    """The labels every set has with the same value (a notification's common labels)."""
    sets = list(labels)
    if not sets:
        return {}
    first = sets[0]
    return {k: v for k, v in first.items() if all(s.get(k) == v for s in sets[1:])}
