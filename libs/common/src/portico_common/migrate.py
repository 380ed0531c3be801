"""Idempotent SQL migrations, one schema per service.

Files are `NNNN_name.sql` in the kernel's and the service's `migrations`
package. Each runs once, in a transaction, with the search_path on the
service's schema; a checksum guards against editing an applied file.
Replicas starting together serialize on an advisory lock.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import re
from dataclasses import dataclass

import asyncpg

from portico_common.db import APP_ROLE
from portico_common.errors import MigrationError

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


async def migrate(conn: asyncpg.Connection, schema: str, service_package: str | None) -> list[str]:
    """Applies pending kernel and service migrations; returns the keys applied."""
    if not _SCHEMA.match(schema):
        raise MigrationError(f"invalid schema name {schema!r}")
    pending = load_migrations("portico_common.migrations", "kernel")
    if service_package is not None:
        pending += load_migrations(service_package, "service")
    applied: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", "portico:migrate")
        await _ensure_role_and_schema(conn, schema)
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                    key text PRIMARY KEY, checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        rows = await conn.fetch(f"SELECT key, checksum FROM {schema}.schema_migrations")  # noqa: S608 - schema matched _SCHEMA
        done = {r["key"]: r["checksum"] for r in rows}
        await conn.execute(f"SET LOCAL search_path TO {schema}, public")
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
        # The app role may use what the migrations created, never own it: an
        # owner could switch row-level security off.
        await conn.execute(f"GRANT USAGE ON SCHEMA {schema} TO {APP_ROLE}")
        await conn.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {APP_ROLE}"
        )
        await conn.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {APP_ROLE}")
    return applied


async def _ensure_role_and_schema(conn: asyncpg.Connection, schema: str) -> None:
    await conn.execute(
        f"""DO $$ BEGIN
              IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                CREATE ROLE {APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS;
              END IF;
            END $$"""  # noqa: S608 - APP_ROLE is a constant
    )
    await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    # The connecting user must be able to SET ROLE to it.
    await conn.execute(f"GRANT {APP_ROLE} TO CURRENT_USER")
