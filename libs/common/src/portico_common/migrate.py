"""Idempotent SQL migrations, one schema per service, run by the migrator.

Files are `NNNN_name.sql` in the kernel's and the service's `migrations`
package. Each runs once, in a transaction, with the search_path on the
service's schema; a checksum guards against editing an applied file.
Migrators running together serialize on an advisory lock. Afterwards the
service's own role is granted what it needs on whatever the files created;
the service itself never migrates: at start it only checks that nothing is
pending (`pending_migrations`).
"""

from __future__ import annotations

import hashlib
import importlib.resources
import re
from dataclasses import dataclass

import asyncpg

from portico_common.db import PLATFORM_GROUP, SETUP_LOCK, Connection, platform_role, service_role
from portico_common.errors import DatabaseSetupError, MigrationError

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_SCHEMA = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Migration:
    """One SQL file to apply."""

    key: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(package: str, prefix: str) -> list[Migration]:
    """The package's migration files in order, keyed `prefix/NNNN_name.sql`."""
    root = importlib.resources.files(package)
    found = sorted(p.name for p in root.iterdir() if p.name.endswith(".sql"))
    migrations = []
    for name in found:
        if not _NAME.match(name):
            raise MigrationError(f"migration file {package}/{name} is not named NNNN_name.sql")
        migrations.append(Migration(f"{prefix}/{name}", root.joinpath(name).read_text()))
    return migrations


def wanted_migrations(service_package: str | None) -> list[Migration]:
    """The kernel's migrations, then the service's, in the order they apply."""
    wanted = load_migrations("portico_common.migrations", "kernel")
    if service_package is not None:
        wanted += load_migrations(service_package, "service")
    return wanted


async def migrate(
    conn: Connection, schema: str, service_package: str | None, *, service: str | None = None
) -> list[str]:
    """Applies pending kernel and service migrations; returns the keys applied.

    `service` owns the schema's roles when the schema is not named after it
    (a tenant's bridge schema, `<service>_t_<hash>`); by default the schema's name.
    """
    if not _SCHEMA.match(schema):
        raise MigrationError(f"invalid schema name {schema!r}")
    pending = wanted_migrations(service_package)
    owner = service or schema
    role = service_role(owner)
    applied: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", SETUP_LOCK)
        for needed in (role, platform_role(owner), PLATFORM_GROUP):
            if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", needed):
                raise MigrationError(
                    f"{schema}: role {needed} does not exist; provision the database first"
                    " (`python -m portico_common.dbsetup provision`)"
                )
        await _ensure_schema(conn, schema)
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                    key text PRIMARY KEY, checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        rows = await conn.fetch(f"SELECT key, checksum FROM {schema}.schema_migrations")  # noqa: S608 - schema matched _SCHEMA
        done = {r["key"]: r["checksum"] for r in rows}
        await conn.execute(f"SET LOCAL search_path TO {schema}, public")
        # FORCE'd row-level security binds the owner too: a file that moves
        # data must see every tenant's rows, as the platform's jobs do.
        await conn.execute("SELECT set_config('app.tenant_id', '*', true)")
        for migration in pending:
            if migration.key in done:
                if done[migration.key] != migration.checksum:
                    raise MigrationError(
                        f"{schema}: applied migration {migration.key} was edited afterwards"
                    )
                continue
            try:
                await conn.execute(migration.sql)
            except asyncpg.PostgresError as exc:
                raise MigrationError(f"{schema}: {migration.key} failed: {exc}") from exc
            await conn.execute(
                "INSERT INTO schema_migrations (key, checksum) VALUES ($1, $2)",
                migration.key,
                migration.checksum,
            )
            applied.append(migration.key)
        # Policies written out by the service's files say '*' bare: guard them.
        try:
            await conn.execute("SELECT guard_platform_policies()")
        except asyncpg.PostgresError as exc:
            raise MigrationError(f"{schema}: {exc}") from exc
        await _grant(conn, schema, role)
        await _grant(conn, schema, platform_role(owner))
    return applied


async def pending_migrations(
    conn: Connection, schema: str, service_package: str | None
) -> list[str]:
    """The keys of the migrations `schema` still lacks (all of them if it has none)."""
    if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{schema}.schema_migrations"):
        return [m.key for m in wanted_migrations(service_package)]
    rows = await conn.fetch(f"SELECT key FROM {schema}.schema_migrations")  # noqa: S608 - schema is the service's name
    done = {r["key"] for r in rows}
    return [m.key for m in wanted_migrations(service_package) if m.key not in done]


async def _ensure_schema(conn: Connection, schema: str) -> None:
    if await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema):
        return
    try:
        await conn.execute(f"CREATE SCHEMA {schema}")
    except asyncpg.InsufficientPrivilegeError:
        raise MigrationError(
            f"schema {schema} does not exist and this role may not create it; provision the"
            " database first (`python -m portico_common.dbsetup provision`)"
        ) from None


async def _grant(conn: Connection, schema: str, role: str) -> None:
    """The service's role uses what the migrations made, and owns none of it.

    An owner could switch row-level security off; the history of migrations
    is for reading only.
    """
    await conn.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
    await conn.execute(
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}"
    )
    # The history of migrations and the tenants' placements are the migrator's to write.
    await conn.execute(f"REVOKE INSERT, UPDATE, DELETE ON {schema}.schema_migrations FROM {role}")
    await conn.execute(f"REVOKE INSERT, UPDATE, DELETE ON {schema}.placements FROM {role}")
    await conn.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {role}")


async def require_migrated(conn: Connection, schema: str, service_package: str | None) -> None:
    """Refuses to run a service on a schema that lacks some of its migrations."""
    missing = await pending_migrations(conn, schema, service_package)
    if missing:
        raise DatabaseSetupError(
            f"schema {schema} lacks {len(missing)} migration(s), first {missing[0]}: run"
            " `python -m portico_common.dbsetup migrate` as the migrator before the service"
        )
