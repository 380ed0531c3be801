"""secrets.json: created once with mode 0600, reused, overridable from the environment."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from portico_cli import credentials
from portico_cli.errors import CliError


@pytest.fixture(autouse=True)
def no_env_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(credentials.ADMIN_SECRET_ENV, raising=False)
    monkeypatch.delenv(credentials.KEK_ENV, raising=False)


def test_first_run_creates_the_file_with_mode_0600(tmp_path: Path) -> None:
    """Both secrets are generated, long and distinct, in a file only the owner reads."""
    path = tmp_path / "home" / "secrets.json"
    found, created = credentials.load_or_create(path)
    assert created
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(found.admin_client_secret) >= 40
    assert len(found.key_encryption_key) >= 40
    assert found.admin_client_secret != found.key_encryption_key
    assert json.loads(path.read_text()) == {
        "admin_client_secret": found.admin_client_secret,
        "key_encryption_key": found.key_encryption_key,
    }


def test_later_runs_reuse_the_same_secrets(tmp_path: Path) -> None:
    """Restarting keeps the secrets, so tokens and encrypted keys stay valid."""
    path = tmp_path / "secrets.json"
    first, _ = credentials.load_or_create(path)
    again, created = credentials.load_or_create(path)
    assert not created
    assert again == first


def test_environment_variables_override_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Users who manage their own secrets set them in the environment."""
    path = tmp_path / "secrets.json"
    credentials.load_or_create(path)
    monkeypatch.setenv(credentials.ADMIN_SECRET_ENV, "from-env")
    found, _ = credentials.load_or_create(path)
    assert found.admin_client_secret == "from-env"
    assert credentials.admin_client_secret(path) == "from-env"


def test_a_readable_file_is_tightened_to_0600(tmp_path: Path) -> None:
    """Loading fixes a secrets file that others could read."""
    path = tmp_path / "secrets.json"
    credentials.load_or_create(path)
    path.chmod(0o644)
    credentials.load(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_malformed_file_is_a_clear_error(tmp_path: Path) -> None:
    """Missing fields are named rather than failing later in auth."""
    path = tmp_path / "secrets.json"
    path.write_text('{"admin_client_secret": "x"}')
    with pytest.raises(CliError, match="key_encryption_key"):
        credentials.load(path)


def test_secrets_never_show_in_repr(tmp_path: Path) -> None:
    """A stray print or log of the object reveals nothing."""
    found, _ = credentials.load_or_create(tmp_path / "secrets.json")
    assert found.admin_client_secret not in repr(found)
    assert found.key_encryption_key not in str(found)


SERVICES = ("auth", "rollout")


def test_database_passwords_are_added_once_and_kept(tmp_path: Path) -> None:
    """The superuser's, the migrator's and each service role's passwords: made once, then reused."""
    path = tmp_path / "secrets.json"
    found, _ = credentials.load_or_create(path)
    passwords = credentials.database_passwords(path, SERVICES)
    values = passwords.values()
    assert len(set(values)) == len(values) == 4
    assert all(len(v) >= 40 and v.isalnum() for v in values)
    assert credentials.database_passwords(path, SERVICES) == passwords
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert stored["postgres"] == {
        "superuser": passwords.superuser,
        "migrator": passwords.migrator,
        "services": passwords.services,
    }
    assert stored["admin_client_secret"] == found.admin_client_secret


def test_a_new_service_gets_a_password_and_the_others_stay(tmp_path: Path) -> None:
    """A service added later gets its role's password; existing ones are never regenerated."""
    path = tmp_path / "secrets.json"
    credentials.load_or_create(path)
    before = credentials.database_passwords(path, ("auth",))
    after = credentials.database_passwords(path, SERVICES)
    assert (after.superuser, after.migrator) == (before.superuser, before.migrator)
    assert after.services["auth"] == before.services["auth"]
    assert after.services["rollout"] not in before.values()


def test_database_passwords_never_show_in_repr(tmp_path: Path) -> None:
    """A stray print or log of the passwords reveals none of them."""
    path = tmp_path / "secrets.json"
    credentials.load_or_create(path)
    passwords = credentials.database_passwords(path, SERVICES)
    assert not [v for v in passwords.values() if v in repr(passwords) or v in str(passwords)]
