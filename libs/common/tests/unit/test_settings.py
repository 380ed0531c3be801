"""Service settings come from PORTICO_-prefixed environment variables."""

from __future__ import annotations

import os
from typing import cast

import pytest
from pydantic import ValidationError

from portico_common.db import Database
from portico_common.errors import ConfigurationError
from portico_common.retention import retention_job
from portico_common.settings import ServiceSettings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("PORTICO_"):
            monkeypatch.delenv(name)


def test_defaults_need_no_environment() -> None:
    """With nothing set, settings point at local NATS and PostgreSQL."""
    settings = ServiceSettings()
    assert settings.nats_url == "nats://127.0.0.1:4222"
    assert settings.database_url.get_secret_value().startswith("postgresql://")
    assert settings.max_deliver == 5


def test_prefixed_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """PORTICO_NATS_URL, PORTICO_GRPC_PORT and friends set the matching fields, typed."""
    monkeypatch.setenv("PORTICO_NATS_URL", "nats://nats.internal:4222")
    monkeypatch.setenv("PORTICO_GRPC_PORT", "50099")
    monkeypatch.setenv("PORTICO_OUTBOX_POLL_SECONDS", "0.25")
    settings = ServiceSettings()
    assert settings.nats_url == "nats://nats.internal:4222"
    assert settings.grpc_port == 50099
    assert settings.outbox_poll_seconds == 0.25


def test_unprefixed_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bare NATS_URL or GRPC_PORT from another tool does not configure Portico."""
    monkeypatch.setenv("NATS_URL", "nats://elsewhere:4222")
    monkeypatch.setenv("GRPC_PORT", "1")
    settings = ServiceSettings()
    assert settings.nats_url == "nats://127.0.0.1:4222"
    assert settings.grpc_port == 50051


def test_database_url_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """The database URL (with its password) never appears in repr or str of the settings."""
    monkeypatch.setenv("PORTICO_DATABASE_URL", "postgresql://app:s3cr3t@db/portico")
    settings = ServiceSettings()
    assert settings.database_url.get_secret_value() == "postgresql://app:s3cr3t@db/portico"
    assert "s3cr3t" not in repr(settings)
    assert "s3cr3t" not in str(settings)


def test_unknown_prefixed_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another service's PORTICO_ variable in a shared environment is not an error."""
    monkeypatch.setenv("PORTICO_ROLLOUT_BAKE_SECONDS", "60")
    ServiceSettings()


def test_malformed_value_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A port that is not a number fails at start-up, naming the field."""
    monkeypatch.setenv("PORTICO_GRPC_PORT", "fifty")
    with pytest.raises(ValidationError, match="grpc_port"):
        ServiceSettings()


def test_subclass_keeps_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    """A service's settings class inherits the PORTICO_ prefix for its own fields."""

    class RolloutSettings(ServiceSettings):
        grpc_port: int = 50065
        bake_seconds: float = 300.0

    monkeypatch.setenv("PORTICO_BAKE_SECONDS", "5")
    settings = RolloutSettings()
    assert settings.grpc_port == 50065
    assert settings.bake_seconds == 5.0


def test_reflection_is_off_unless_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """gRPC reflection is off by default; PORTICO_GRPC_REFLECTION=true turns it on."""
    assert ServiceSettings().grpc_reflection is False
    monkeypatch.setenv("PORTICO_GRPC_REFLECTION", "true")
    assert ServiceSettings().grpc_reflection is True


def test_jwks_cache_settings_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys are trusted stale for an hour by default; never less than their refresh age."""
    settings = ServiceSettings()
    assert (settings.jwks_min_refresh_seconds, settings.jwks_stale_seconds) == (5.0, 3600.0)
    monkeypatch.setenv("PORTICO_JWKS_STALE_SECONDS", "60")
    with pytest.raises(ValidationError, match="jwks_stale_seconds"):
        ServiceSettings()


def test_an_in_flight_key_is_reclaimed_after_the_stale_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A minute by default; the retention refuses to purge keys before they could go stale."""
    assert ServiceSettings().idempotency_stale_seconds == 60.0
    monkeypatch.setenv("PORTICO_IDEMPOTENCY_STALE_SECONDS", "3")
    assert ServiceSettings().idempotency_stale_seconds == 3.0
    monkeypatch.setenv("PORTICO_IDEMPOTENCY_STALE_SECONDS", "0")
    with pytest.raises(ValidationError, match="idempotency_stale_seconds"):
        ServiceSettings()
    monkeypatch.setenv("PORTICO_IDEMPOTENCY_STALE_SECONDS", "7200")
    monkeypatch.setenv("PORTICO_IDEMPOTENCY_TTL_SECONDS", "3600")
    with pytest.raises(ConfigurationError, match=r"reclaimed \(7200s\)"):
        retention_job(cast("Database", object()), ServiceSettings())
