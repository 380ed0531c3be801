"""docker-compose.yml's database: passwords from .env, one role per service, set up first.

Read as YAML (no Docker engine): `docker compose` itself is not available
here, so the file's `${VAR:?...}` references are checked as text.
"""

from __future__ import annotations

import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("auth", "tenancy", "security", "compat", "rollout", "slo")


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data["services"]


def test_each_service_connects_as_its_own_role_with_a_password_from_env() -> None:
    """PORTICO_DATABASE_URL names portico_<service>, with a password .env must provide."""
    services = _compose()
    for name in SERVICES:
        env = services[name]["environment"]
        url = env["PORTICO_DATABASE_URL"]
        expected = (
            rf"^postgresql://portico_{name}:\$\{{PORTICO_{name.upper()}_DB_PASSWORD:\?[^}}]+\}}@"
        )
        assert re.match(expected, url), url
        assert not [k for k in env if k.endswith("DATABASE_URL") and k != "PORTICO_DATABASE_URL"]
        assert services[name]["depends_on"]["db-setup"] == {
            "condition": "service_completed_successfully"
        }
    assert not [k for k in services["gateway"]["environment"] if "DATABASE" in k]


def test_db_setup_provisions_and_migrates_before_the_services() -> None:
    """The one-shot db-setup holds the superuser's and the migrator's logins, nobody else does."""
    services = _compose()
    setup = services["db-setup"]
    assert setup["command"] == [
        "python",
        "-m",
        "portico_common.dbsetup",
        "provision",
        "migrate",
    ]
    assert setup["restart"] == "no"
    env = setup["environment"]
    assert env["PORTICO_ADMIN_DATABASE_URL"].startswith(
        "postgresql://portico:${POSTGRES_PASSWORD:?"
    )
    assert env["PORTICO_MIGRATOR_DATABASE_URL"].startswith(
        "postgresql://portico_migrator:${PORTICO_MIGRATOR_DB_PASSWORD:?"
    )
    for name in SERVICES:
        assert (
            env[f"PORTICO_{name.upper()}_DATABASE_URL"]
            == (services[name]["environment"]["PORTICO_DATABASE_URL"])
        )
    for name, service in services.items():
        if name not in {"db-setup", "placer"}:
            leaked = [
                k
                for k in service.get("environment", {})
                if k.startswith(("PORTICO_ADMIN", "PORTICO_MIGRATOR"))
            ]
            assert not leaked, name


def test_the_placer_runs_after_db_setup_with_its_two_logins_and_no_other() -> None:
    """The long-running placer holds db-setup's administrator and migrator URLs, nothing more."""
    services = _compose()
    placer = services["placer"]
    command = placer["command"]
    assert command[:5] == ["python", "-m", "portico_common.dbsetup", "place-pending", "--watch"]
    assert float(command[5]) > 0
    assert placer["restart"] == "unless-stopped"
    assert placer["depends_on"] == {"db-setup": {"condition": "service_completed_successfully"}}
    env = placer["environment"]
    setup = services["db-setup"]["environment"]
    for key in ("PORTICO_ADMIN_DATABASE_URL", "PORTICO_MIGRATOR_DATABASE_URL"):
        assert env[key] == setup[key], key
    assert not [
        k
        for k in env
        if "DATABASE_URL" in k and not k.startswith(("PORTICO_ADMIN", "PORTICO_MIGRATOR"))
    ]
    assert not [k for k in env if k.startswith("PORTICO_NATS")]


def test_postgres_asks_every_connection_for_a_password() -> None:
    """The container's superuser password comes from .env; initdb writes no trust line."""
    env = _compose()["postgres"]["environment"]
    assert env["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert env["POSTGRES_INITDB_ARGS"] == "--auth-host=scram-sha-256 --auth-local=scram-sha-256"
    assert "POSTGRES_HOST_AUTH_METHOD" not in env


def test_compose_env_generates_every_secret_once(tmp_path: Path) -> None:
    """scripts/compose_env.py writes each variable the file requires, 0600, keeping old values."""
    env_file = tmp_path / ".env"
    env_file.write_text("POSTGRES_PASSWORD=kept\n")

    def run() -> dict[str, str]:
        subprocess.run(  # noqa: S603 - our own script
            [sys.executable, str(ROOT / "scripts" / "compose_env.py"), str(env_file)],
            check=True,
            capture_output=True,
        )
        return dict(line.split("=", 1) for line in env_file.read_text().splitlines())

    first = run()
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert first["POSTGRES_PASSWORD"] == "kept"
    required = set(re.findall(r"\$\{(\w+):\?", (ROOT / "docker-compose.yml").read_text()))
    assert required <= set(first), required - set(first)
    assert all(
        re.fullmatch(r"[0-9a-f]{64}", v) for k, v in first.items() if k != "POSTGRES_PASSWORD"
    )
    assert run() == first
