"""Guards for the times the domain is handed."""

from __future__ import annotations

from datetime import datetime

from portico_rollout.errors import NaiveDatetimeError


def require_aware(value: datetime, name: str) -> datetime:
    """Return `value`, or raise if it has no timezone.

    Comparing a naive time with an aware one raises TypeError deep inside a
    transition; refusing it at the door gives a precise error instead.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(name)
    return value
