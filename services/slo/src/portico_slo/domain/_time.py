"""Guards for the times the domain is handed."""

from __future__ import annotations

from datetime import datetime

from portico_slo.errors import InvalidOutcomeError


def require_aware(value: datetime, name: str) -> datetime:
    """Return `value`, or raise if it has no timezone (it would be ambiguous)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidOutcomeError(f"{name} must be a timezone-aware datetime")
    return value
