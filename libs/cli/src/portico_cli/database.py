"""PostgreSQL made ready for `portico up`: roles provisioned, schemas migrated, a URL per service.

Three ways, chosen by the environment:

- nothing set: the embedded server (started by `infra`); its superuser
  provisions the roles with the passwords of the secrets file, then the
  migrator migrates every schema;
- `PORTICO_ADMIN_DATABASE_URL`: your server, the same steps with that
  account (it must be allowed to create roles and schemas);
- `PORTICO_<SERVICE>_DATABASE_URL` for every service: roles you provisioned
  yourself (`python -m portico_common.dbsetup provision`), used as given;
  with `PORTICO_MIGRATOR_DATABASE_URL` too, the schemas are migrated first.

Each service is then given only its own URL. `PORTICO_DATABASE_URL` means
one service's URL, so `portico up` refuses it rather than guess.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from portico_cli.credentials import DatabasePasswords
from portico_cli.errors import StartupError
from portico_common.db import MIGRATOR_ROLE, service_role
from portico_common.dbsetup import migrate_services, provision_database, role_url
from portico_common.errors import DatabaseSetupError, MigrationError
from portico_common.provision import RolePasswords
from portico_common.settings import DatabaseSetupSettings

ADMIN_URL_ENV = "PORTICO_ADMIN_DATABASE_URL"
MIGRATOR_URL_ENV = "PORTICO_MIGRATOR_DATABASE_URL"
SERVICE_URL_ENV = "PORTICO_DATABASE_URL"


def service_url_env(service: str) -> str:
    return f"PORTICO_{service.upper()}_DATABASE_URL"


def database_variables(services: Sequence[str]) -> set[str]:
    """Every variable that names a database login: never passed on to a child process."""
    return {ADMIN_URL_ENV, MIGRATOR_URL_ENV, SERVICE_URL_ENV} | {
        service_url_env(s) for s in services
    }


@dataclass(frozen=True)
class ServiceDatabases:
    """Where the database is (no credentials, for display) and each service's own URL."""

    where: str
    urls: Mapping[str, str]
    # The administrator's and the migrator's logins, when `portico up` was given
    # them (embedded or admin): the placer's. Never passed to a service.
    admin_url: str = field(default="", repr=False)
    migrator_url: str = field(default="", repr=False)


def choose(services: Sequence[str]) -> tuple[str, DatabaseSetupSettings]:
    """ "embedded", "admin" or "services", and the settings read from the environment."""
    if os.environ.get(SERVICE_URL_ENV):
        raise StartupError(
            f"{SERVICE_URL_ENV} is the URL of one service's own role, and `portico up` gives each"
            f" service its own. To use your PostgreSQL, set {ADMIN_URL_ENV} (an account that may"
            f" create roles) or {', '.join(service_url_env(s) for s in services)}"
            " (roles you provisioned with `python -m portico_common.dbsetup provision`)"
        )
    settings = DatabaseSetupSettings()
    given = [s for s in services if settings.service_url(s)]
    if given:
        missing = [service_url_env(s) for s in services if s not in given]
        if missing:
            raise StartupError(f"set every service's database URL, or none: {', '.join(missing)}")
        return "services", settings
    if settings.admin_database_url.get_secret_value():
        return "admin", settings
    return "embedded", settings


def provision_and_migrate(
    admin_url: str,
    passwords: DatabasePasswords,
    services: Sequence[str],
    say: Callable[[str], None],
) -> ServiceDatabases:
    """As the administrator: the roles; as the migrator: the schemas. Returns each service's URL."""
    roles = RolePasswords(
        migrator=passwords.migrator, services={s: passwords.services[s] for s in services}
    )
    migrator = role_url(admin_url, MIGRATOR_ROLE, passwords.migrator)
    say(f"PostgreSQL: provisioning {MIGRATOR_ROLE} and a role per service, then migrating")
    applied = _run(
        "provision and migrate", _provision_and_migrate(admin_url, roles, migrator, services)
    )
    _say_applied(applied, say)
    urls = {s: role_url(admin_url, service_role(s), passwords.services[s]) for s in services}
    return ServiceDatabases(where(admin_url), urls, admin_url=admin_url, migrator_url=migrator)


def given_urls(
    settings: DatabaseSetupSettings, services: Sequence[str], say: Callable[[str], None]
) -> ServiceDatabases:
    """The services' own URLs as set; migrated first when the migrator's URL is set too."""
    urls = {s: settings.service_url(s) for s in services}
    migrator = settings.migrator_database_url.get_secret_value()
    if migrator:
        say(f"PostgreSQL: migrating every schema as {MIGRATOR_ROLE}")
        _say_applied(_run("migrate", migrate_services(migrator, services)), say)
    return ServiceDatabases(where(urls[services[0]]), urls)


def where(url: str) -> str:
    """The URL without its credentials and parameters: the server and the database."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


async def _provision_and_migrate(
    admin_url: str, roles: RolePasswords, migrator_url: str, services: Sequence[str]
) -> dict[str, list[str]]:
    await provision_database(admin_url, roles)
    return await migrate_services(migrator_url, services)


def _run(what: str, work: Coroutine[Any, Any, dict[str, list[str]]]) -> dict[str, list[str]]:
    try:
        result = asyncio.run(work)
    except (DatabaseSetupError, MigrationError, asyncpg.PostgresError, OSError) as exc:
        raise StartupError(f"PostgreSQL: could not {what}: {exc}") from None
    return result


def _say_applied(applied: Mapping[str, list[str]], say: Callable[[str], None]) -> None:
    for service, keys in applied.items():
        if keys:
            say(f"  {service}: applied {len(keys)} migration(s)")
