"""SQL migrations against a real PostgreSQL: once, guarded, serialized."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest

from portico_common.db import MIGRATOR_ROLE, service_role
from portico_common.dbsetup import provision_database
from portico_common.errors import MigrationError
from portico_common.migrate import load_migrations, migrate
from portico_common.provision import RolePasswords
from portico_embedded.testing.databases import migrator_url, role_password, service_url

pytestmark = pytest.mark.integration

SCHEMA = "svc"
KERNEL = [m.key for m in load_migrations("portico_common.migrations", "kernel")]
MakePackage = Callable[[dict[str, str]], str]


def _dir(package: str) -> Path:
    return Path(importlib.import_module(package).__file__ or "").parent


async def _migrate(admin_url: str, package: str | None, schema: str = SCHEMA) -> list[str]:
    """Provisions `schema`'s role as the administrator, then migrates as the migrator."""
    await provision_database(
        admin_url,
        RolePasswords(
            migrator=role_password(admin_url, MIGRATOR_ROLE),
            services={schema: role_password(admin_url, service_role(schema))},
        ),
    )
    conn = await asyncpg.connect(migrator_url(admin_url))
    try:
        return await migrate(conn, schema, package)
    finally:
        await conn.close()


async def _exists(dsn: str, relation: str) -> bool:
    conn = await asyncpg.connect(dsn)
    try:
        return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", relation))
    finally:
        await conn.close()


async def test_migrations_apply_once(database_url: str, make_package: MakePackage) -> None:
    """The first run applies the kernel's and the service's files; the second applies nothing."""
    package = make_package({"0001_things.sql": "CREATE TABLE things (id int PRIMARY KEY);"})
    assert await _migrate(database_url, package) == [*KERNEL, "service/0001_things.sql"]
    assert await _migrate(database_url, package) == []


async def test_new_file_is_applied_on_the_next_run(
    database_url: str, make_package: MakePackage
) -> None:
    """A file added after the first run is the only one the next run applies."""
    package = make_package({"0001_things.sql": "CREATE TABLE things (id int PRIMARY KEY);"})
    await _migrate(database_url, package)
    (_dir(package) / "0002_more.sql").write_text("ALTER TABLE things ADD COLUMN name text;")
    assert await _migrate(database_url, package) == ["service/0002_more.sql"]


async def test_tables_land_in_the_service_schema(
    database_url: str, make_package: MakePackage
) -> None:
    """Unqualified names in a service's file create objects in its schema, not in public."""
    package = make_package({"0001_things.sql": "CREATE TABLE things (id int PRIMARY KEY);"})
    await _migrate(database_url, package)
    assert await _exists(database_url, f"{SCHEMA}.things")
    assert await _exists(database_url, f"{SCHEMA}.outbox")
    assert not await _exists(database_url, "public.things")


async def test_schemas_are_migrated_independently(database_url: str) -> None:
    """Two services in one database each get their own kernel tables."""
    assert await _migrate(database_url, None, "alpha") == KERNEL
    assert await _migrate(database_url, None, "beta") == KERNEL
    assert await _exists(database_url, "alpha.outbox")
    assert await _exists(database_url, "beta.outbox")


async def test_edited_migration_is_refused(database_url: str, make_package: MakePackage) -> None:
    """Changing an applied file raises MigrationError and applies nothing else in that run."""
    package = make_package({"0001_things.sql": "CREATE TABLE things (id int PRIMARY KEY);"})
    await _migrate(database_url, package)
    (_dir(package) / "0001_things.sql").write_text("CREATE TABLE things (id bigint PRIMARY KEY);")
    (_dir(package) / "0002_more.sql").write_text("CREATE TABLE more_things (id int);")
    with pytest.raises(
        MigrationError,
        match=r"^svc: applied migration service/0001_things\.sql was edited afterwards$",
    ):
        await _migrate(database_url, package)
    assert not await _exists(database_url, f"{SCHEMA}.more_things")


async def test_failing_migration_applies_nothing(
    database_url: str, make_package: MakePackage
) -> None:
    """A file with an SQL error names itself and rolls back every file of the run."""
    package = make_package(
        {
            "0001_things.sql": "CREATE TABLE things (id int PRIMARY KEY);",
            "0002_broken.sql": "CREATE TABLE broken (id nosuchtype);",
        }
    )
    with pytest.raises(
        MigrationError, match=r'^svc: service/0002_broken\.sql failed: type "nosuchtype"'
    ):
        await _migrate(database_url, package)
    assert not await _exists(database_url, f"{SCHEMA}.things")
    assert not await _exists(database_url, f"{SCHEMA}.outbox")
    # Fixing the file lets the next start apply everything.
    (_dir(package) / "0002_broken.sql").write_text("CREATE TABLE broken (id int);")
    assert len(await _migrate(database_url, package)) == len(KERNEL) + 2


async def test_concurrent_migrations_do_not_collide(
    database_url: str, make_package: MakePackage
) -> None:
    """Replicas starting together on one schema all succeed and apply each file once."""
    package = make_package({"0001_things.sql": "CREATE TABLE things (id int PRIMARY KEY);"})
    results = await asyncio.gather(*(_migrate(database_url, package) for _ in range(4)))
    applied = sorted(results, key=len, reverse=True)
    assert applied[0] == [*KERNEL, "service/0001_things.sql"]
    assert applied[1:] == [[], [], []]
    conn = await asyncpg.connect(database_url)
    try:
        count = await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.schema_migrations")  # noqa: S608
        assert count == len(KERNEL) + 1
    finally:
        await conn.close()


async def test_app_role_cannot_switch_row_level_security_off(database_url: str) -> None:
    """The service's role uses the tables but does not own them, so RLS stays on."""
    await _migrate(database_url, None)
    conn = await asyncpg.connect(service_url(database_url, SCHEMA))
    try:
        async with conn.transaction():
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="must be owner"):
                await conn.execute(
                    f"ALTER TABLE {SCHEMA}.idempotency_keys DISABLE ROW LEVEL SECURITY"
                )
    finally:
        await conn.close()


async def test_app_role_can_use_tables_of_later_migrations(
    database_url: str, make_package: MakePackage
) -> None:
    """Tables and sequences a later file adds are granted to the service's role too."""
    package = make_package({"0001_things.sql": "CREATE TABLE things (id int);"})
    await _migrate(database_url, package)
    (_dir(package) / "0002_more.sql").write_text("CREATE TABLE more_things (id serial);")
    await _migrate(database_url, package)
    conn = await asyncpg.connect(service_url(database_url, SCHEMA))
    try:
        async with conn.transaction():
            await conn.execute(f"INSERT INTO {SCHEMA}.more_things DEFAULT VALUES")
            assert await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.more_things") == 1  # noqa: S608
    finally:
        await conn.close()
