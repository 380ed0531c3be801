"""Idempotency fingerprints and key validation (no database needed)."""

from __future__ import annotations

from typing import cast

import pytest

from portico_common.db import Database
from portico_common.errors import InvalidArgumentError
from portico_common.grpc.idempotency import MAX_KEY_LENGTH, IdempotencyStore, request_fingerprint

METHOD = "/portico.tenancy.v1.TenancyService/CreateTenant"


def test_fingerprint_is_deterministic() -> None:
    """The same method and request bytes always give the same fingerprint."""
    assert request_fingerprint(METHOD, b"\x0a\x04acme") == request_fingerprint(
        METHOD, b"\x0a\x04acme"
    )


def test_fingerprint_is_a_sha256_digest() -> None:
    """A fingerprint is 32 raw bytes, stored in a bytea column."""
    assert len(request_fingerprint(METHOD, b"")) == 32


def test_fingerprint_depends_on_the_request() -> None:
    """Two different request bodies under one method have different fingerprints."""
    assert request_fingerprint(METHOD, b"\x0a\x04acme") != request_fingerprint(
        METHOD, b"\x0a\x04beta"
    )


def test_fingerprint_depends_on_the_method() -> None:
    """The same bytes sent to two methods are two different requests."""
    other = "/portico.tenancy.v1.TenancyService/DeleteTenant"
    assert request_fingerprint(METHOD, b"x") != request_fingerprint(other, b"x")


def test_fingerprint_separates_method_from_body() -> None:
    """Moving bytes across the method/body boundary changes the fingerprint."""
    assert request_fingerprint("/a/bc", b"d") != request_fingerprint("/a/b", b"cd")


@pytest.mark.parametrize(
    "key", ["", "k" * (MAX_KEY_LENGTH + 1), "line\nbreak", "tab\tkey", "nul\x00"]
)
async def test_malformed_keys_are_rejected_before_any_io(key: str) -> None:
    """An empty, overlong or non-printable key is INVALID_ARGUMENT without a database."""
    store = IdempotencyStore(cast("Database", None))
    with pytest.raises(InvalidArgumentError, match=r"idempotency-key must be 1\.\.255 printable"):
        await store.begin("acme", key, METHOD, request_fingerprint(METHOD, b""))
