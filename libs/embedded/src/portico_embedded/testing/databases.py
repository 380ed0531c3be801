"""Test databases set up as `portico up` sets one up, and the two-adapter contract suites.

A test's database (the `database_url` fixture: its administrator's URL) is
made ready for a service the way every deployment makes it: the
administrator provisions the migrator and the service's role, the migrator
migrates the schema, and the service connects as its own role. The roles
live in the server, shared by every test database; their passwords are
derived from the administrator's URL, so every test (and every process a
test starts) agrees on them without keeping any state.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit

import asyncpg
import pytest

from portico_common.db import MIGRATOR_ROLE, Database, Place, Tier, open_database, service_role
from portico_common.dbsetup import migrate_services, provision_database, role_url
from portico_common.placement import place_tenant
from portico_common.provision import RolePasswords

T = TypeVar("T")

# `@pytest.fixture(params=CONTRACT_BACKENDS)`: every contract test runs against
# the in-memory adapter (a unit test) and the PostgreSQL one (an integration test).
CONTRACT_BACKENDS: list[Any] = ["memory", pytest.param("postgres", marks=pytest.mark.integration)]

# The default migrations of a schema: the service's own package, by convention.
SERVICE_MIGRATIONS = "portico_{schema}.migrations"

# `await service_database_url("rollout")`: the URL a service connects with.
ServiceDatabaseUrl = Callable[..., Coroutine[Any, Any, str]]


def role_password(admin_url: str, role: str) -> str:
    """The password the test session gives `role` on the server behind `admin_url`."""
    server = urlsplit(admin_url)
    key = f"{server.scheme}://{server.netloc}".encode()
    return hmac.new(key, role.encode(), hashlib.sha256).hexdigest()[:32]


def migrator_url(admin_url: str) -> str:
    """The migrator's URL for the database of `admin_url`."""
    return role_url(admin_url, MIGRATOR_ROLE, role_password(admin_url, MIGRATOR_ROLE))


def service_url(admin_url: str, schema: str) -> str:
    """The URL of `schema`'s own role for the database of `admin_url`."""
    role = service_role(schema)
    return role_url(admin_url, role, role_password(admin_url, role))


async def prepare_service_database(
    admin_url: str, schema: str, migrations: str | None = SERVICE_MIGRATIONS
) -> str:
    """Provisions `schema`'s role, migrates it as the migrator; returns the service's URL.

    `migrations` is the service's migrations package (None: the kernel's only).
    """
    package = migrations.format(schema=schema) if migrations is not None else None
    passwords = RolePasswords(
        migrator=role_password(admin_url, MIGRATOR_ROLE),
        services={schema: role_password(admin_url, service_role(schema))},
    )
    await provision_database(admin_url, passwords)
    await migrate_services(migrator_url(admin_url), [schema], {schema: package})
    return service_url(admin_url, schema)


async def migrate_database(url: str, schema: str, migrations: str | None) -> str:
    """Applies the kernel's and a service's migrations to the database at `url` (its admin's).

    Returns the URL the service connects with.
    """
    return await prepare_service_database(url, schema, migrations)


def migrated_database(schema: str, migrations: str | None, *, name: str, max_size: int = 8) -> Any:
    """A fixture `name`: the test's fresh database migrated into `schema`, as a Database.

    The Database connects as the schema's own roles, as the service would
    (the request role, and the platform role for ALL_TENANTS).
    In a conftest: `rollout_db = migrated_database("rollout", MIGRATIONS, name="rollout_db")`.
    """

    @pytest.fixture(name=name)
    async def fixture(database_url: str) -> AsyncIterator[Database]:
        url = await prepare_service_database(database_url, schema, migrations)
        db = await open_database(url, schema, max_size=max_size)
        try:
            yield db
        finally:
            await db.close()

    return fixture


@asynccontextmanager
async def placed_tenants(
    admin_url: str, services: Mapping[str, str | None], tenants: Mapping[str, Tier]
) -> AsyncIterator[dict[str, Place]]:
    """Places each bridge or silo tenant in `services` (schema -> migrations), as `dbsetup place`.

    The services' schemas must be migrated already. Yields each placed
    tenant's place; the silo databases (outside the test's database) are
    dropped on the way out.
    """
    migrator = migrator_url(admin_url)
    placed = {
        tenant: await place_tenant(admin_url, migrator, tenant, tier, services)
        for tenant, tier in tenants.items()
        if tier is not Tier.POOL
    }
    try:
        yield placed
    finally:
        admin = await asyncpg.connect(admin_url)
        try:
            for place in placed.values():
                if place.tier is Tier.SILO:
                    await admin.execute(f'DROP DATABASE IF EXISTS "{place.location}" WITH (FORCE)')
        finally:
            await admin.close()


def contract_backend(
    request: pytest.FixtureRequest, *, memory: Callable[[], T], postgres: str
) -> T:
    """The backend of a test parametrised by CONTRACT_BACKENDS.

    `memory` builds the in-memory one; `postgres` names the fixture that
    builds the PostgreSQL one (requested only when that parameter runs, so
    unit runs never start a server).
    """
    if request.param == "postgres":
        found: T = request.getfixturevalue(postgres)
        return found
    return memory()
