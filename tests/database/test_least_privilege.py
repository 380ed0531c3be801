"""A database no one walks into: every service's role, on every service's real schema.

The test's database is set up as `portico up` and `dbsetup` set it up: the
administrator provisions the migrator and a role per service, the migrator
migrates each service's real migrations. Then each service's role is tried
against every other service's tables, against row-level security, and
against the powers only an administrator has.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from portico_common.db import MIGRATOR_ROLE, PLATFORM_GROUP, platform_role, service_role
from portico_common.events.topology import SERVICES
from portico_embedded.testing.databases import (
    migrator_url,
    prepare_service_database,
    service_url,
)

pytestmark = pytest.mark.integration

# The kernel's tables every schema carries (per schema: never shared).
KERNEL_TABLES = ("outbox", "inbox", "idempotency_keys", "access_denials", "schema_migrations")
ROLES = tuple(service_role(s) for s in SERVICES)


@pytest.fixture
async def suite_database(database_url: str) -> str:
    """The test database with every service provisioned and migrated; its admin's URL."""
    for service in SERVICES:
        await prepare_service_database(database_url, service)
    return database_url


@pytest.fixture
async def admin(suite_database: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(suite_database)
    yield conn
    await conn.close()


async def _connect(admin_url: str, service: str) -> asyncpg.Connection:
    return await asyncpg.connect(service_url(admin_url, service))


async def _tables(admin: asyncpg.Connection, schema: str) -> list[str]:
    rows = await admin.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1", schema)
    return sorted(r["tablename"] for r in rows)


async def test_each_schema_has_its_own_kernel_tables(admin: asyncpg.Connection) -> None:
    """Outbox, inbox, idempotency keys and denials exist once per service schema."""
    for service in SERVICES:
        assert set(KERNEL_TABLES) <= set(await _tables(admin, service)), service


async def test_a_service_cannot_read_another_services_tables(
    suite_database: str, admin: asyncpg.Connection
) -> None:
    """Every table of every other schema, the kernel's included, is permission denied."""
    tried = 0
    for reader in SERVICES:
        conn = await _connect(suite_database, reader)
        try:
            for owner in SERVICES:
                if owner == reader:
                    continue
                for table in await _tables(admin, owner):
                    with pytest.raises(
                        asyncpg.InsufficientPrivilegeError,
                        match=f"permission denied for schema {owner}",
                    ):
                        await conn.fetch(f"SELECT * FROM {owner}.{table} LIMIT 1")  # noqa: S608 - names from the catalog
                    tried += 1
        finally:
            await conn.close()
    assert tried >= len(SERVICES) * (len(SERVICES) - 1) * len(KERNEL_TABLES)


async def test_another_services_rows_are_refused_not_hidden(
    suite_database: str, admin: asyncpg.Connection
) -> None:
    """With rows in rollout's outbox, inbox and idempotency keys, slo gets an error, not []."""
    await admin.execute(
        """INSERT INTO rollout.outbox (event_id, subject, event_type, tenant_id, headers, payload)
           VALUES (gen_random_uuid(), 'portico.rollout.started', 'rollout.started', 'acme',
                   '{}', '\\x00');
           INSERT INTO rollout.inbox (consumer, event_id, event_type, tenant_id)
           VALUES ('rollout-checks', 'e-1', 'plugin.compat.checked', 'acme');
           INSERT INTO rollout.idempotency_keys (tenant_id, key, method, request_hash, state)
           VALUES ('acme', 'k-1', '/m', '\\x00', 'done');"""
    )
    slo = await _connect(suite_database, "slo")
    try:
        await slo.execute("SELECT set_config('app.tenant_id', '*', false)")
        for table in ("outbox", "inbox", "idempotency_keys"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                await slo.fetch(f"SELECT * FROM rollout.{table}")  # noqa: S608 - fixed names
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                await slo.execute(f"DELETE FROM rollout.{table}")  # noqa: S608 - fixed names
    finally:
        await slo.close()
    rollout = await _connect(suite_database, "rollout")
    try:
        assert await rollout.fetchval("SELECT count(*) FROM rollout.outbox") == 1
        assert await rollout.fetchval("SELECT count(*) FROM rollout.inbox") == 1
    finally:
        await rollout.close()


async def test_a_service_uses_its_own_tables_but_creates_nothing(suite_database: str) -> None:
    """Its own schema: read and write rows, but no new table there, in public, or temporary."""
    conn = await _connect(suite_database, "compat")
    try:
        async with conn.transaction():
            await conn.execute(
                """INSERT INTO compat.inbox (consumer, event_id, event_type, tenant_id)
                   VALUES ('compat-tenancy', 'e-1', 'tenant.quota.updated', 'acme')"""
            )
            assert await conn.fetchval("SELECT count(*) FROM compat.inbox") == 1
        for sql in (
            "CREATE TABLE compat.mine (id int)",
            "CREATE TABLE public.mine (id int)",
            "CREATE TEMPORARY TABLE mine (id int)",
            "CREATE SCHEMA mine",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(sql)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM compat.schema_migrations")
        assert await conn.fetchval("SELECT count(*) > 0 FROM compat.schema_migrations")
    finally:
        await conn.close()


async def test_no_service_role_can_bypass_row_level_security(
    suite_database: str, admin: asyncpg.Connection
) -> None:
    """row_security=off fails rather than reveal; RLS cannot be disabled, unforced or rewritten."""
    for service in SERVICES:
        await admin.execute(
            f"""INSERT INTO {service}.idempotency_keys
                    (tenant_id, key, method, request_hash, state)
                VALUES ('beta', 'k-1', '/m', '\\x00', 'done')"""  # noqa: S608 - fixed names
        )
        conn = await _connect(suite_database, service)
        try:
            await conn.execute("SELECT set_config('app.tenant_id', 'acme', false)")
            assert await conn.fetchval(f"SELECT count(*) FROM {service}.idempotency_keys") == 0  # noqa: S608 - fixed names
            await conn.execute("SET row_security = off")
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
                await conn.fetch(f"SELECT * FROM {service}.idempotency_keys")  # noqa: S608 - fixed names
            await conn.execute("RESET row_security")
            for sql in (
                "ALTER TABLE {t} DISABLE ROW LEVEL SECURITY",
                "ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY",
                "DROP POLICY tenant_isolation ON {t}",
                "CREATE POLICY everyone ON {t} USING (true)",
                "ALTER TABLE {t} OWNER TO " + service_role(service),
            ):
                with pytest.raises(asyncpg.InsufficientPrivilegeError, match="must be owner"):
                    await conn.execute(sql.format(t=f"{service}.idempotency_keys"))
        finally:
            await conn.close()


async def test_no_service_role_can_create_roles_databases_or_become_another(
    suite_database: str,
) -> None:
    """CREATE ROLE, CREATE DATABASE, SET ROLE and SET SESSION AUTHORIZATION are all refused."""
    for service in SERVICES:
        conn = await _connect(suite_database, service)
        try:
            for sql in (
                "CREATE ROLE intruder LOGIN PASSWORD 'x'",
                "CREATE DATABASE intruder",
                "ALTER ROLE CURRENT_USER BYPASSRLS",
                f"GRANT {MIGRATOR_ROLE} TO CURRENT_USER",
            ):
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute(sql)
            others = [MIGRATOR_ROLE, "postgres", *(r for r in ROLES if r != service_role(service))]
            for role in others:
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute(f"SET ROLE {role}")
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute(f"SET SESSION AUTHORIZATION {role}")
            assert await conn.fetchval("SELECT current_user") == service_role(service)
        finally:
            await conn.close()


async def test_roles_have_only_what_they_need(admin: asyncpg.Connection) -> None:
    """Service roles and the migrator: no superuser, BYPASSRLS, CREATEROLE, CREATEDB or membership
    beyond the platform roles' and the migrator's bare membership of portico_platform (no
    privileges, no SET ROLE); the migrator owns every schema and table, the services own nothing."""
    platforms = [platform_role(s) for s in SERVICES]
    rows = await admin.fetch(
        """SELECT rolname, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolcanlogin,
                  EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                           WHERE m.member = r.oid AND (g.rolname <> $2 OR m.inherit_option
                                                       OR m.set_option)) AS member,
                  pg_has_role(r.oid, $2, 'MEMBER') AS platform
             FROM pg_roles r WHERE rolname = ANY($1::text[])""",
        [MIGRATOR_ROLE, *ROLES, *platforms],
        PLATFORM_GROUP,
    )
    assert sorted(r["rolname"] for r in rows) == sorted([MIGRATOR_ROLE, *ROLES, *platforms])
    for row in rows:
        assert row["rolcanlogin"], row["rolname"]
        powers = ("rolsuper", "rolbypassrls", "rolcreaterole", "rolcreatedb", "member")
        assert not any(row[p] for p in powers), dict(row)
        # Only the platform roles and the migrator may use ALL_TENANTS; a request role never.
        assert row["platform"] == (row["rolname"] not in ROLES), dict(row)
    owners = await admin.fetch(
        """SELECT DISTINCT pg_get_userbyid(c.relowner) AS owner
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = ANY($1::text[])
           UNION
           SELECT DISTINCT pg_get_userbyid(nspowner) FROM pg_namespace
            WHERE nspname = ANY($1::text[])
           UNION
           SELECT DISTINCT pg_get_userbyid(p.proowner)
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = ANY($1::text[])""",
        list(SERVICES),
    )
    assert [r["owner"] for r in owners] == [MIGRATOR_ROLE]


async def test_the_migrator_owns_but_is_still_under_row_level_security(
    suite_database: str, admin: asyncpg.Connection
) -> None:
    """FORCE'd RLS binds the owner too: without a tenant, the migrator sees no tenant rows."""
    await admin.execute(
        """INSERT INTO tenancy.idempotency_keys (tenant_id, key, method, request_hash, state)
           VALUES ('acme', 'k-1', '/m', '\\x00', 'done')"""
    )
    conn = await asyncpg.connect(migrator_url(suite_database))
    try:
        assert await conn.fetchval("SELECT count(*) FROM tenancy.idempotency_keys") == 0
        for sql in ("CREATE ROLE intruder", "CREATE DATABASE intruder"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(sql)
    finally:
        await conn.close()


async def test_a_wrong_password_is_refused(suite_database: str) -> None:
    """A service role, the migrator or the superuser with another password cannot log in."""
    for url in (
        service_url(suite_database, "auth"),
        migrator_url(suite_database),
        suite_database,
    ):
        parts = urlsplit(url)
        assert parts.password, url
        wrong = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":0wrong0@"))
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(urlunsplit(wrong))
        conn = await asyncpg.connect(url)
        await conn.close()


async def test_trust_is_nowhere_in_pg_hba(admin: asyncpg.Connection) -> None:
    """Every rule of the server's pg_hba.conf asks for a SCRAM password."""
    methods = {
        r["auth_method"] for r in await admin.fetch("SELECT auth_method FROM pg_hba_file_rules")
    }
    assert methods == {"scram-sha-256"}


async def test_only_portico_roles_may_connect_and_none_make_temporary_tables(
    admin: asyncpg.Connection,
) -> None:
    """The database's ACL: no PUBLIC entry (PostgreSQL's default CONNECT and TEMPORARY revoked)."""
    acl = await admin.fetchval(
        "SELECT datacl::text[] FROM pg_database WHERE datname = current_database()"
    )
    grantees = {entry.split("=", 1)[0] for entry in acl}
    assert "" not in grantees, acl
    assert {MIGRATOR_ROLE, *ROLES} <= grantees
    for role in (MIGRATOR_ROLE, *ROLES):
        assert await admin.fetchval(
            "SELECT has_database_privilege($1, current_database(), 'CONNECT')", role
        )
        assert not await admin.fetchval(
            "SELECT has_database_privilege($1, current_database(), 'TEMPORARY')", role
        )
