"""How `portico up` chooses its PostgreSQL and what each service is given."""

from __future__ import annotations

import pytest

from portico_cli import database
from portico_cli.errors import StartupError

SERVICES = ("auth", "rollout")


@pytest.fixture(autouse=True)
def _no_database_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in database.database_variables(
        ("auth", "tenancy", "security", "compat", "rollout", "slo")
    ):
        monkeypatch.delenv(name, raising=False)


def test_nothing_set_means_the_embedded_server() -> None:
    """Without database variables, the embedded PostgreSQL is used."""
    assert database.choose(SERVICES)[0] == "embedded"


def test_an_administrator_url_means_provisioning_on_that_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PORTICO_ADMIN_DATABASE_URL: portico up provisions and migrates there."""
    monkeypatch.setenv(database.ADMIN_URL_ENV, "postgresql://admin:x@db:5432/portico")
    how, settings = database.choose(SERVICES)
    assert how == "admin"
    assert settings.admin_database_url.get_secret_value().startswith("postgresql://admin:")


def test_every_service_url_means_roles_provisioned_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A URL for every service is used as given; one missing is named."""
    monkeypatch.setenv("PORTICO_AUTH_DATABASE_URL", "postgresql://portico_auth:a@db/portico")
    with pytest.raises(StartupError, match="PORTICO_ROLLOUT_DATABASE_URL"):
        database.choose(SERVICES)
    monkeypatch.setenv("PORTICO_ROLLOUT_DATABASE_URL", "postgresql://portico_rollout:r@db/portico")
    how, settings = database.choose(SERVICES)
    assert how == "services"
    given = database.given_urls(settings, SERVICES, lambda _: None)
    assert given.urls == {
        "auth": "postgresql://portico_auth:a@db/portico",
        "rollout": "postgresql://portico_rollout:r@db/portico",
    }
    assert given.where == "postgresql://db/portico"


def test_one_url_for_every_service_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """PORTICO_DATABASE_URL names one service's role: portico up says what to set instead."""
    monkeypatch.setenv(database.SERVICE_URL_ENV, "postgresql://postgres@db/portico")
    with pytest.raises(StartupError, match="PORTICO_ADMIN_DATABASE_URL"):
        database.choose(SERVICES)


def test_where_shows_no_credentials() -> None:
    """The database as displayed: server and name, no user, password or parameters."""
    assert (
        database.where("postgresql://u:secret@127.0.0.1:5432/portico?sslmode=require")
        == "postgresql://127.0.0.1:5432/portico"
    )
