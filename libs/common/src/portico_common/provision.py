"""The database's roles, set up by an administrator before anything migrates or runs.

- `portico_migrator` logs in, owns every service schema and everything in it,
  and runs the migrations. It is no superuser and creates no roles or
  databases: the administrator makes the roles and the schemas.
- `portico_<service>` logs in as one service: USAGE on its own schema and
  SELECT/INSERT/UPDATE/DELETE on its own tables (the migrator grants them
  after each migration). It owns nothing, so the FORCE'd row-level security
  of tenant tables binds it; NOBYPASSRLS, NOCREATEROLE, NOCREATEDB, and a
  member of no role, so it cannot SET ROLE anywhere.
- `portico_<service>_platform` logs in as that service's platform jobs
  (schedulers, the outbox relay, retention: whatever runs with ALL_TENANTS).
  The same rights as the request role, and one membership: `portico_platform`
  (NOLOGIN, no privileges, granted WITH INHERIT FALSE, SET FALSE), which is
  what the policies check before '*' opens every tenant's rows. The migrator
  is a member too, for migrations that move data across tenants.
- The database: CONNECT for these roles only; PUBLIC loses its default
  CONNECT and TEMPORARY.

`provision` is idempotent: it creates what is missing, re-asserts attributes,
passwords and memberships, and hands schemas that an earlier setup left to
another owner (the administrator, when services migrated themselves) over to
the migrator, objects included. `check_service_role` is what a service runs
at start, so a privileged URL fails loudly instead of quietly defeating RLS.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import asyncpg

from portico_common.db import (
    MIGRATOR_ROLE,
    PLATFORM_GROUP,
    SETUP_LOCK,
    Connection,
    platform_role,
    service_role,
)
from portico_common.errors import DatabaseSetupError

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,50}$")
# The role services connected through before each had its own (NOLOGIN, reached
# by SET ROLE from the administrator); its grants are withdrawn on hand-over.
_LEGACY_APP_ROLE = "portico_app"
# pg_roles column -> (the value every Portico role has, the clause that sets it).
_ATTRIBUTES: dict[str, tuple[bool, str]] = {
    "rolcanlogin": (True, "LOGIN"),
    "rolsuper": (False, "NOSUPERUSER"),
    "rolcreatedb": (False, "NOCREATEDB"),
    "rolcreaterole": (False, "NOCREATEROLE"),
    "rolreplication": (False, "NOREPLICATION"),
    "rolbypassrls": (False, "NOBYPASSRLS"),
    # Privileges come from grants to the role itself, never through a membership.
    "rolinherit": (False, "NOINHERIT"),
}


@dataclass(frozen=True)
class RolePasswords:
    """The migrator's password and each service schema's role password."""

    migrator: str
    services: Mapping[str, str] = field(default_factory=dict)
    # Each service's platform role's password; missing: the request role's.
    platforms: Mapping[str, str] = field(default_factory=dict)

    def platform(self, schema: str) -> str:
        return self.platforms.get(schema) or self.services[schema]

    def __repr__(self) -> str:
        return f"RolePasswords(services={sorted(self.services)}, <redacted>)"


async def provision(admin: Connection, passwords: RolePasswords) -> None:
    """Creates or re-asserts the roles, the database's grants and the schemas."""
    for schema in passwords.services:
        _check_name(schema)
    async with admin.transaction():
        await admin.execute("SELECT pg_advisory_xact_lock(hashtext($1))", SETUP_LOCK)
        await _ensure_group(admin)
        await _ensure_role(admin, MIGRATOR_ROLE, passwords.migrator)
        await _revoke_memberships(admin, MIGRATOR_ROLE, keep=PLATFORM_GROUP)
        await _join_platform(admin, MIGRATOR_ROLE)
        for schema, password in passwords.services.items():
            role = service_role(schema)
            await _ensure_role(admin, role, password)
            await _revoke_memberships(admin, role)
            platform = platform_role(schema)
            await _ensure_role(admin, platform, passwords.platform(schema))
            await _revoke_memberships(admin, platform, keep=PLATFORM_GROUP)
            await _join_platform(admin, platform)
        await grant_connect(admin, passwords.services)
        for schema in passwords.services:
            await admin.execute(
                f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {MIGRATOR_ROLE}"
            )
            await _hand_over(admin, schema)


async def grant_connect(admin: Connection, services: Iterable[str]) -> None:
    """CONNECT on the current database for the migrator and the services' roles only."""
    database = await admin.fetchval("SELECT quote_ident(current_database())")
    roles = ", ".join(
        [MIGRATOR_ROLE, *(r for s in services for r in (service_role(s), platform_role(s)))]
    )
    await admin.execute(f"REVOKE ALL ON DATABASE {database} FROM PUBLIC")
    await admin.execute(f"GRANT CONNECT ON DATABASE {database} TO {roles}")


async def _ensure_group(admin: Connection) -> None:
    """The platform group: no login, no privileges, nothing but a name the policies check."""
    if not await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", PLATFORM_GROUP):
        await admin.execute(f"CREATE ROLE {PLATFORM_GROUP} NOLOGIN NOINHERIT")


async def _join_platform(admin: Connection, role: str) -> None:
    """Membership only: no privileges inherited, no SET ROLE to the group."""
    options = await admin.fetchrow(
        """SELECT m.inherit_option, m.set_option FROM pg_auth_members m
             JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member
            WHERE g.rolname = $1 AND r.rolname = $2""",
        PLATFORM_GROUP,
        role,
    )
    if options is not None and not options["inherit_option"] and not options["set_option"]:
        return
    if options is not None:
        await admin.execute(f"REVOKE {PLATFORM_GROUP} FROM {role}")
    await admin.execute(f"GRANT {PLATFORM_GROUP} TO {role} WITH INHERIT FALSE, SET FALSE")


async def check_service_role(conn: Connection, schema: str) -> None:
    """Refuses a connection whose role could read past row-level security or other schemas."""
    row = await conn.fetchrow(
        """SELECT r.rolname, r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolcreatedb,
                  EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.member = r.oid) AS member,
                  EXISTS (SELECT 1 FROM pg_namespace n
                           WHERE n.nspname = $1 AND n.nspowner = r.oid) AS owns_schema,
                  EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                           WHERE n.nspname = $1 AND c.relowner = r.oid) AS owns_tables
             FROM pg_roles r WHERE r.rolname = current_user""",
        schema,
    )
    if row is None:  # pragma: no cover - current_user always has a pg_roles row
        raise DatabaseSetupError("cannot read the connecting role's attributes")
    problems = [
        what
        for what, found in (
            ("a superuser", row["rolsuper"]),
            ("BYPASSRLS", row["rolbypassrls"]),
            ("CREATEROLE", row["rolcreaterole"]),
            ("CREATEDB", row["rolcreatedb"]),
            ("a member of another role", row["member"]),
            (f"the owner of schema {schema}", row["owns_schema"]),
            (f"the owner of tables in schema {schema}", row["owns_tables"]),
        )
        if found
    ]
    if problems:
        raise DatabaseSetupError(
            f"the database URL logs in as {row['rolname']!r}, which is {', '.join(problems)}:"
            f" a service connects as its own role ({service_role(schema)}), provisioned by"
            " `python -m portico_common.dbsetup provision`"
        )


async def check_platform_role(conn: Connection, schema: str) -> None:
    """Refuses a platform connection whose role is not the service's platform role, or could
    get past row-level security (ALL_TENANTS is all it may use beyond the request role)."""
    row = await conn.fetchrow(
        """SELECT r.rolname, r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolcreatedb,
                  EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                           WHERE m.member = r.oid
                             AND (g.rolname <> $2 OR m.inherit_option OR m.set_option)) AS member,
                  EXISTS (SELECT 1 FROM pg_namespace n
                           WHERE n.nspname = $1 AND n.nspowner = r.oid) AS owns_schema
             FROM pg_roles r WHERE r.rolname = current_user""",
        schema,
        PLATFORM_GROUP,
    )
    if row is None:  # pragma: no cover - current_user always has a pg_roles row
        raise DatabaseSetupError("cannot read the connecting role's attributes")
    problems = [
        what
        for what, found in (
            (f"not {platform_role(schema)}", row["rolname"] != platform_role(schema)),
            ("a superuser", row["rolsuper"]),
            ("BYPASSRLS", row["rolbypassrls"]),
            ("CREATEROLE", row["rolcreaterole"]),
            ("CREATEDB", row["rolcreatedb"]),
            (f"a member of a role other than {PLATFORM_GROUP}", row["member"]),
            (f"the owner of schema {schema}", row["owns_schema"]),
        )
        if found
    ]
    if problems:
        raise DatabaseSetupError(
            f"the platform database URL logs in as {row['rolname']!r}, which is"
            f" {', '.join(problems)}: platform jobs connect as {platform_role(schema)},"
            " provisioned by `python -m portico_common.dbsetup provision`"
        )


async def _ensure_role(admin: Connection, role: str, password: str) -> None:
    if not password:
        raise DatabaseSetupError(f"no password given for role {role}")
    columns = ", ".join(_ATTRIBUTES)
    found = await admin.fetchrow(
        f"SELECT {columns} FROM pg_roles WHERE rolname = $1",  # noqa: S608 - fixed column names
        role,
    )
    if found is None:
        verb, changes = "CREATE", [clause for _, clause in _ATTRIBUTES.values()]
    else:
        # Only what differs: a non-superuser administrator (a managed database's)
        # may not even restate NOSUPERUSER, NOREPLICATION or NOBYPASSRLS.
        verb = "ALTER"
        changes = [
            clause for column, (want, clause) in _ATTRIBUTES.items() if found[column] != want
        ]
    # Utility statements take no parameters: the server quotes the literal. It
    # stores a SCRAM verifier (password_encryption), never the password.
    literal = await admin.fetchval("SELECT quote_literal($1::text)", password)
    statement = f"{verb} ROLE {role} WITH {' '.join(changes)} PASSWORD {literal}"
    try:
        await admin.execute(statement)
    except asyncpg.InsufficientPrivilegeError as exc:
        raise DatabaseSetupError(
            f"cannot {verb.lower()} role {role} ({', '.join(changes) or 'its password'}):"
            f" the administrator URL needs a role that may create and alter roles ({exc})"
        ) from None


async def _revoke_memberships(admin: Connection, role: str, *, keep: str = "") -> None:
    granted = await admin.fetch(
        """SELECT quote_ident(g.rolname) AS name FROM pg_auth_members m
             JOIN pg_roles g ON g.oid = m.roleid
             JOIN pg_roles r ON r.oid = m.member
            WHERE r.rolname = $1 AND g.rolname <> $2""",
        role,
        keep,
    )
    for row in granted:
        await admin.execute(f"REVOKE {row['name']} FROM {role}")


async def _hand_over(admin: Connection, schema: str) -> None:
    """Gives the schema and everything in it to the migrator."""
    await admin.execute(f"ALTER SCHEMA {schema} OWNER TO {MIGRATOR_ROLE}")
    # Tables first: ALTER TABLE ... OWNER carries their indexes and serial sequences along.
    statements = await admin.fetch(
        """SELECT format('ALTER %s %s OWNER TO %I',
                         CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                                        WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
                         c.oid::regclass, $2::text) AS sql
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
              AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = $2)
            ORDER BY c.relkind = 'S', c.oid""",
        schema,
        MIGRATOR_ROLE,
    )
    for row in statements:
        await admin.execute(row["sql"])
    functions = await admin.fetch(
        """SELECT format('ALTER ROUTINE %s OWNER TO %I', p.oid::regprocedure, $2::text) AS sql
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = $1
              AND p.proowner <> (SELECT oid FROM pg_roles WHERE rolname = $2)""",
        schema,
        MIGRATOR_ROLE,
    )
    for row in functions:
        await admin.execute(row["sql"])
    if await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", _LEGACY_APP_ROLE):
        await admin.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {_LEGACY_APP_ROLE}")
        await admin.execute(
            f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {_LEGACY_APP_ROLE}"
        )
        await admin.execute(f"REVOKE ALL ON SCHEMA {schema} FROM {_LEGACY_APP_ROLE}")


def _check_name(schema: str) -> None:
    if not _NAME.match(schema):
        raise DatabaseSetupError(f"invalid schema name {schema!r}")
