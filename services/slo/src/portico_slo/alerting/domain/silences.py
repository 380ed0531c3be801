"""Silences, with Alertmanager's rules (`silence/silence.go`).

A silence mutes every alert its matchers match while it is active:
pending before `starts_at`, active until `ends_at`, expired after. A start
in the past becomes now. An update that would rewrite history (other
matchers, another start of an active silence, an end already past) expires
the old silence and creates a new one, so the record of what was silenced
when stays true. Expiring sets the end to now (and the start too, for a
pending silence).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from portico_slo.alerting.domain.labels import LabelSet, Matcher, matches_all, require_aware
from portico_slo.alerting.errors import InvalidSilenceError

MAX_COMMENT = 4096
MAX_MATCHERS = 32


class SilenceState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True, kw_only=True)
class Silence:
    """A silence of one tenant."""

    silence_id: str
    tenant_id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    updated_at: datetime

    def state(self, now: datetime) -> SilenceState:
        """Alertmanager's `getState`, over [starts_at, ends_at).

        Alertmanager counts `ends_at` itself as active; here a silence expired
        at `now` no longer mutes at that same instant, which matters on a
        clock that does not move between two calls.
        """
        if now < self.starts_at:
            return SilenceState.PENDING
        if now >= self.ends_at:
            return SilenceState.EXPIRED
        return SilenceState.ACTIVE

    def mutes(self, labels: LabelSet, now: datetime) -> bool:
        """Whether this silence mutes an alert with `labels` at `now`."""
        return self.state(now) is SilenceState.ACTIVE and matches_all(self.matchers, labels)


@dataclass(frozen=True, slots=True, kw_only=True)
class SilenceSpec:
    """What a caller asks for: matchers, the time span, who and why."""

    matchers: tuple[Matcher, ...]
    starts_at: datetime | None
    ends_at: datetime
    created_by: str
    comment: str


def _check(spec: SilenceSpec, starts_at: datetime) -> None:
    if not spec.matchers:
        raise InvalidSilenceError("matchers", "a silence needs at least one matcher")
    if len(spec.matchers) > MAX_MATCHERS:
        raise InvalidSilenceError("matchers", f"at most {MAX_MATCHERS} matchers")
    if all(m.matches("") for m in spec.matchers):
        # It would silence every alert lacking those labels: almost surely a mistake.
        raise InvalidSilenceError(
            "matchers", "at least one matcher must not match the empty string"
        )
    if not spec.created_by.strip():
        raise InvalidSilenceError("created_by", "say who creates the silence")
    if not spec.comment.strip():
        raise InvalidSilenceError("comment", "say why the alerts are silenced")
    if len(spec.comment) > MAX_COMMENT:
        raise InvalidSilenceError("comment", f"longer than {MAX_COMMENT} characters")
    require_aware(spec.ends_at, "ends_at")
    if spec.ends_at < starts_at:
        raise InvalidSilenceError("ends_at", "must not be before starts_at (or now)")


def create_silence(spec: SilenceSpec, *, silence_id: str, tenant_id: str, now: datetime) -> Silence:
    """A new silence; a start in the past (or none) becomes `now`."""
    require_aware(now, "now")
    starts_at = spec.starts_at if spec.starts_at is not None else now
    require_aware(starts_at, "starts_at")
    starts_at = max(starts_at, now)
    _check(spec, starts_at)
    return Silence(
        silence_id=silence_id,
        tenant_id=tenant_id,
        matchers=tuple(spec.matchers),
        starts_at=starts_at,
        ends_at=spec.ends_at,
        created_by=spec.created_by,
        comment=spec.comment,
        updated_at=now,
    )


def can_update(current: Silence, spec: SilenceSpec, now: datetime) -> bool:
    """Whether `spec` can change `current` in place without rewriting history."""
    if set(current.matchers) != set(spec.matchers):
        return False
    state = current.state(now)
    starts_at = spec.starts_at if spec.starts_at is not None else current.starts_at
    if state is SilenceState.ACTIVE:
        return starts_at == current.starts_at and spec.ends_at >= now
    if state is SilenceState.PENDING:
        return starts_at >= now
    return False


def update_silence(
    current: Silence, spec: SilenceSpec, *, new_id: str, now: datetime
) -> list[Silence]:
    """The silences to store: `current` changed in place, or expired beside a new one."""
    if can_update(current, spec, now):
        starts_at = spec.starts_at if spec.starts_at is not None else current.starts_at
        _check(spec, starts_at)
        return [
            replace(
                current,
                starts_at=starts_at,
                ends_at=spec.ends_at,
                created_by=spec.created_by,
                comment=spec.comment,
                updated_at=now,
            )
        ]
    created = create_silence(spec, silence_id=new_id, tenant_id=current.tenant_id, now=now)
    if current.state(now) is SilenceState.EXPIRED:
        return [created]
    return [expire_silence(current, now), created]


def expire_silence(silence: Silence, now: datetime) -> Silence:
    """The silence ended now; an expired one is returned unchanged (idempotent)."""
    state = silence.state(now)
    if state is SilenceState.EXPIRED:
        return silence
    if state is SilenceState.PENDING:
        return replace(silence, starts_at=now, ends_at=now, updated_at=now)
    return replace(silence, ends_at=now, updated_at=now)
