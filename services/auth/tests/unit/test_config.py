"""Auth's settings and the configuration it refuses to start with."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import SecretStr

from portico_auth.bootstrap import load_config
from portico_auth.errors import ConfigurationError
from portico_auth.settings import AuthSettings

ADMIN = "admin-secret-0123456789"
KEK = "kek-secret-0123456789-0123456789-0123"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own PORTICO_AUTH_* variables must not leak into these tests."""
    for name in ("ADMIN_CLIENT_ID", "ADMIN_CLIENT_SECRET", "KEY_ENCRYPTION_KEY"):
        monkeypatch.delenv(f"PORTICO_AUTH_{name}", raising=False)


def _settings(**values: object) -> AuthSettings:
    secrets = {
        "auth_admin_client_secret": SecretStr(ADMIN),
        "auth_key_encryption_key": SecretStr(KEK),
    }
    return AuthSettings.model_validate({**secrets, **values})


def test_settings_come_from_portico_env_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    """PORTICO_AUTH_* variables fill the settings; defaults are port 50062 and portico-admin."""
    monkeypatch.setenv("PORTICO_AUTH_ADMIN_CLIENT_SECRET", ADMIN)
    monkeypatch.setenv("PORTICO_AUTH_KEY_ENCRYPTION_KEY", KEK)
    monkeypatch.setenv("PORTICO_AUTH_TOKEN_MAX_TTL_SECONDS", "1800")
    settings = AuthSettings()
    assert settings.grpc_port == 50062
    assert settings.auth_admin_client_id == "portico-admin"
    assert settings.auth_admin_client_secret is not None
    assert settings.auth_admin_client_secret.get_secret_value() == ADMIN
    assert ADMIN not in repr(settings)
    assert load_config(settings).policies.tokens.max_ttl == 1800


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({}, "PORTICO_AUTH_ADMIN_CLIENT_SECRET and PORTICO_AUTH_KEY_ENCRYPTION_KEY"),
        ({"auth_admin_client_secret": ADMIN}, "^PORTICO_AUTH_KEY_ENCRYPTION_KEY must be set"),
        ({"auth_key_encryption_key": KEK}, "^PORTICO_AUTH_ADMIN_CLIENT_SECRET must be set"),
    ],
)
def test_missing_secrets_are_named(values: dict[str, str], named: str) -> None:
    """Without either secret, the error names exactly the variables to set."""
    with pytest.raises(ConfigurationError, match=named):
        load_config(AuthSettings.model_validate(values))


def test_published_keys_outlive_the_longest_token() -> None:
    """The JWKS overlap covers the maximum token lifetime plus clock skew."""
    settings = _settings(auth_token_max_ttl_seconds=1200)
    assert load_config(settings).policies.keys.overlap > timedelta(seconds=1200)


@pytest.mark.parametrize(
    "bad",
    [
        {"auth_token_default_ttl_seconds": 0},
        {"auth_token_default_ttl_seconds": 7200},
        {"auth_signing_key_lifetime_seconds": 0},
    ],
)
def test_impossible_lifetimes_are_refused(bad: dict[str, int]) -> None:
    """A zero default TTL, a default above the max, or a zero key lifetime is refused."""
    with pytest.raises(ConfigurationError, match="lifetimes"):
        load_config(_settings(**bad))
