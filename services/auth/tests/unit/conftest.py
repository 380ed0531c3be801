"""Fixtures for auth's unit tests: a manual clock, in-memory state, keys and grants."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portico_auth.adapters.memory import AuthMemoryStore, memory_store
from portico_auth.domain.clients import Grant
from portico_auth.domain.signing_keys import KeyPolicy, SigningKey
from portico_common.clock import ManualClock


@pytest.fixture
def t0() -> datetime:
    """The moment every scenario starts at."""
    return datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock(t0: datetime) -> ManualClock:
    return ManualClock(t0)


@pytest.fixture
def key_policy() -> KeyPolicy:
    return KeyPolicy()


@pytest.fixture
def store(clock: ManualClock) -> AuthMemoryStore:
    return memory_store(clock)


@pytest.fixture
def signing_key(t0: datetime, key_policy: KeyPolicy) -> SigningKey:
    return SigningKey.generate(t0, key_policy)


@pytest.fixture
def grant() -> Grant:
    return Grant("ci-bot", "acme", ("tenants.read", "rollouts.request"))
