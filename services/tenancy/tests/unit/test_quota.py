"""Quota and usage values: bounds and revisions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from portico_tenancy.domain.quota import MAX_AMOUNT, MAX_PLUGINS, Quota, Resources, Usage
from portico_tenancy.errors import InvalidQuotaError

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"cpu_millicores": -1}, "cpu_millicores"),
        ({"memory_mib": -5}, "memory_mib"),
        ({"storage_mib": MAX_AMOUNT + 1}, "storage_mib"),
        ({"cpu_millicores": True}, "cpu_millicores"),
        ({"memory_mib": 1.5}, "memory_mib"),
    ],
)
def test_bad_amounts_are_rejected_naming_the_field(changes: dict[str, Any], field: str) -> None:
    """Negative, absurd or non-integer amounts raise InvalidQuotaError naming the field."""
    with pytest.raises(InvalidQuotaError, match=field):
        Resources(**changes)


def test_zero_and_the_maximum_are_valid_amounts() -> None:
    """The bounds themselves are accepted."""
    assert Resources(0, MAX_AMOUNT, 0).memory_mib == MAX_AMOUNT


def test_plugin_counts_are_bounded() -> None:
    """max_plugins and plugins must lie between 0 and MAX_PLUGINS."""
    with pytest.raises(InvalidQuotaError, match="max_plugins"):
        Quota.replacing(None, "acme", Resources(), MAX_PLUGINS + 1, NOW)
    with pytest.raises(InvalidQuotaError, match="plugins"):
        Usage.replacing(None, "acme", Resources(), -1, NOW)


def test_revisions_start_at_one_and_follow_the_previous() -> None:
    """The first quota or usage is revision 1; each replacement is the previous one plus 1."""
    first = Quota.replacing(None, "acme", Resources(1, 1, 1), 1, NOW)
    second = Quota.replacing(first, "acme", Resources(2, 2, 2), 2, NOW)
    usage = Usage.replacing(None, "acme", Resources(), 0, NOW)
    assert (first.revision, second.revision) == (1, 2)
    assert Usage.replacing(usage, "acme", Resources(), 0, NOW).revision == 2
