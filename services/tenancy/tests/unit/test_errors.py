"""Tenancy's errors: one base, each in one kernel category, none restating its code."""

from __future__ import annotations

from portico_common.errors import CATEGORIES, PorticoError
from portico_tenancy.errors import TenancyError


def test_errors_take_their_code_from_one_kernel_category() -> None:
    """Every tenancy error is a PorticoError in exactly one category and defines no `code`."""
    errors = TenancyError.__subclasses__()
    assert issubclass(TenancyError, PorticoError)
    assert "code" not in TenancyError.__dict__
    assert len(errors) >= 5
    for cls in errors:
        assert "code" not in cls.__dict__, cls
        assert sum(issubclass(cls, c) for c in CATEGORIES) == 1, cls
    assert {cls.code for cls in errors} == {
        "INVALID_ARGUMENT",
        "ALREADY_EXISTS",
        "NOT_FOUND",
        # A job in the wrong state for a retry or cancel; a job whose last attempt failed.
        "FAILED_PRECONDITION",
        "INTERNAL",
        "PERMISSION_DENIED",
        # A claim that does not fit the tenant's quota.
        "RESOURCE_EXHAUSTED",
        # A namespace the cluster is still emptying (the teardown job's next attempt looks again).
        "UNAVAILABLE",
    }
