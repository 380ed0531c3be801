"""Silences follow Alertmanager's rules (`silence/silence.go`): states, validation, updates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from portico_slo.alerting.domain.labels import Matcher
from portico_slo.alerting.domain.silences import (
    SilenceSpec,
    SilenceState,
    can_update,
    create_silence,
    expire_silence,
    update_silence,
)
from portico_slo.alerting.errors import InvalidSilenceError

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TIER = (Matcher.of("tier", "=", "1h/5m"),)


def spec(
    matchers: tuple[Matcher, ...] = TIER,
    starts: datetime | None = None,
    ends: datetime = NOW + timedelta(hours=1),
) -> SilenceSpec:
    return SilenceSpec(
        matchers=matchers, starts_at=starts, ends_at=ends, created_by="ana", comment="deploy"
    )


def test_states_follow_the_clock() -> None:
    """Pending before the start, active until the end, expired from the end on."""
    s = create_silence(
        spec(starts=NOW + timedelta(minutes=1)), silence_id="x", tenant_id="acme", now=NOW
    )
    assert s.state(NOW) is SilenceState.PENDING
    assert s.state(NOW + timedelta(minutes=1)) is SilenceState.ACTIVE
    assert s.state(NOW + timedelta(hours=1)) is SilenceState.EXPIRED
    assert s.mutes({"tier": "1h/5m"}, NOW + timedelta(minutes=30))
    assert not s.mutes({"tier": "6h/30m"}, NOW + timedelta(minutes=30))
    assert not s.mutes({"tier": "1h/5m"}, NOW)


def test_a_start_in_the_past_becomes_now() -> None:
    """As Alertmanager does, a silence never starts before it was created."""
    s = create_silence(
        spec(starts=NOW - timedelta(days=1)), silence_id="x", tenant_id="acme", now=NOW
    )
    assert s.starts_at == NOW


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (spec(matchers=()), "at least one matcher"),
        (spec(matchers=(Matcher.of("team", "=~", ".*"),)), "must not match the empty string"),
        (spec(ends=NOW - timedelta(minutes=1)), "ends_at"),
        (
            SilenceSpec(matchers=TIER, starts_at=None, ends_at=NOW, created_by=" ", comment="c"),
            "created_by",
        ),
        (
            SilenceSpec(matchers=TIER, starts_at=None, ends_at=NOW, created_by="a", comment=""),
            "comment",
        ),
    ],
)
def test_useless_or_impossible_silences_are_refused(bad: SilenceSpec, message: str) -> None:
    """No matcher, matchers that match everything, an end before the start, no creator or reason."""
    with pytest.raises(InvalidSilenceError, match=message):
        create_silence(bad, silence_id="x", tenant_id="acme", now=NOW)


def test_an_active_silence_may_change_its_end_in_place() -> None:
    """Same matchers and start, a later end: the silence is updated, not replaced."""
    s = create_silence(spec(), silence_id="x", tenant_id="acme", now=NOW)
    later = NOW + timedelta(minutes=10)
    [changed] = update_silence(
        s, spec(starts=s.starts_at, ends=NOW + timedelta(hours=3)), new_id="y", now=later
    )
    assert (changed.silence_id, changed.ends_at) == ("x", NOW + timedelta(hours=3))


def test_changing_matchers_expires_the_old_silence_and_creates_a_new_one() -> None:
    """Rewriting what an active silence silenced would falsify history: a successor is made."""
    s = create_silence(spec(), silence_id="x", tenant_id="acme", now=NOW)
    later = NOW + timedelta(minutes=10)
    other = (Matcher.of("tier", "=", "6h/30m"),)
    assert not can_update(s, spec(matchers=other), later)
    old, new = update_silence(s, spec(matchers=other), new_id="y", now=later)
    assert (old.silence_id, old.ends_at, old.state(later)) == ("x", later, SilenceState.EXPIRED)
    assert (new.silence_id, new.starts_at, new.matchers) == ("y", later, other)


def test_expiring_ends_now_and_is_idempotent() -> None:
    """Active: the end becomes now; pending: start and end become now; expired: unchanged."""
    active = create_silence(spec(), silence_id="x", tenant_id="acme", now=NOW)
    expired = expire_silence(active, NOW + timedelta(minutes=1))
    assert expired.ends_at == NOW + timedelta(minutes=1)
    assert expired.state(NOW + timedelta(minutes=1)) is SilenceState.EXPIRED
    assert expire_silence(expired, NOW + timedelta(minutes=5)) is expired
    pending = create_silence(
        spec(starts=NOW + timedelta(hours=1), ends=NOW + timedelta(hours=2)),
        silence_id="p",
        tenant_id="acme",
        now=NOW,
    )
    gone = expire_silence(pending, NOW)
    assert (gone.starts_at, gone.ends_at) == (NOW, NOW)
