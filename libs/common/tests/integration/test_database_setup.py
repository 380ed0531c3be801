"""Setting a database up for services: provisioning, migrating, and what a service refuses."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import asyncpg
import pytest
from pydantic import SecretStr

from portico_common.db import MIGRATOR_ROLE, create_pool, service_role
from portico_common.dbsetup import migrate_services, provision_database
from portico_common.errors import DatabaseSetupError, MigrationError
from portico_common.migrate import load_migrations
from portico_common.placement import bridge_schema, silo_database
from portico_common.provision import RolePasswords
from portico_common.runtime import Runtime, check_database
from portico_common.settings import ServiceSettings
from portico_embedded.testing.databases import (
    migrator_url,
    prepare_service_database,
    role_password,
    service_url,
)

pytestmark = pytest.mark.integration

SCHEMA = "setuptest"
KERNEL = [m.key for m in load_migrations("portico_common.migrations", "kernel")]
MakePackage = Callable[[dict[str, str]], str]


def _passwords(admin_url: str, *schemas: str) -> RolePasswords:
    return RolePasswords(
        migrator=role_password(admin_url, MIGRATOR_ROLE),
        services={s: role_password(admin_url, service_role(s)) for s in schemas},
    )


async def _start(url: str, package: str | None = None) -> Runtime:
    # NATS is never reached: the database is checked first.
    settings = ServiceSettings(database_url=SecretStr(url), nats_url="nats://127.0.0.1:1")
    return await Runtime.start(SCHEMA, settings, package)


async def test_a_service_refuses_to_run_as_an_administrator_or_the_migrator(
    database_url: str,
) -> None:
    """A superuser's or the schema owner's URL fails the start, naming what is wrong."""
    await prepare_service_database(database_url, SCHEMA, None)
    await _start_checks_only(service_url(database_url, SCHEMA))
    with pytest.raises(DatabaseSetupError, match="which is a superuser, BYPASSRLS, CREATEROLE"):
        await _start(database_url)
    with pytest.raises(DatabaseSetupError, match=f"the owner of schema {SCHEMA}"):
        await _start(migrator_url(database_url))


async def test_a_service_refuses_a_schema_it_cannot_use_or_that_lacks_migrations(
    database_url: str, make_package: MakePackage
) -> None:
    """Provisioned but not migrated, or missing a newer file: the start fails and says why."""
    await provision_database(database_url, _passwords(database_url, SCHEMA))
    with pytest.raises(DatabaseSetupError, match=f"cannot read schema {SCHEMA}"):
        await _start(service_url(database_url, SCHEMA))
    package = make_package({"0001_things.sql": "CREATE TABLE things (id int);"})
    await migrate_services(migrator_url(database_url), [SCHEMA], {SCHEMA: None})
    with pytest.raises(DatabaseSetupError, match=r"lacks 1 migration\(s\), first service/0001"):
        await _start(service_url(database_url, SCHEMA), package)


async def test_the_migrator_cannot_migrate_a_schema_nobody_provisioned(database_url: str) -> None:
    """Without its service's role, or without the schema, migrating fails and says to provision."""
    await provision_database(database_url, _passwords(database_url))
    with pytest.raises(MigrationError, match="role portico_nobody does not exist"):
        await migrate_services(migrator_url(database_url), ["nobody"], {"nobody": None})
    await provision_database(database_url, _passwords(database_url, "late"))
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute("DROP SCHEMA late")
    finally:
        await admin.close()
    with pytest.raises(MigrationError, match="schema late does not exist and this role may not"):
        await migrate_services(migrator_url(database_url), ["late"], {"late": None})


async def test_provisioning_takes_over_a_schema_an_administrator_migrated(
    database_url: str,
) -> None:
    """Tables, sequences and functions the administrator owned (services once migrated as it)
    pass to the migrator; the old shared role loses its grants; history is kept."""
    await prepare_service_database(database_url, SCHEMA, None)
    admin = await asyncpg.connect(database_url)
    try:
        # As before roles: everything owned by the administrator, used through portico_app.
        await admin.execute("REASSIGN OWNED BY portico_migrator TO CURRENT_USER")
        await admin.execute(
            """DO $$ BEGIN
                 IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'portico_app') THEN
                   CREATE ROLE portico_app NOLOGIN;
                 END IF;
               END $$"""
        )
        await admin.execute(f"GRANT USAGE ON SCHEMA {SCHEMA} TO portico_app")
        await admin.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {SCHEMA} TO portico_app")
        await provision_database(database_url, _passwords(database_url, SCHEMA))
        owners = await admin.fetch(
            """SELECT DISTINCT pg_get_userbyid(c.relowner) AS owner FROM pg_class c
                WHERE c.relnamespace = $1::text::regnamespace
               UNION SELECT DISTINCT pg_get_userbyid(p.proowner) FROM pg_proc p
                WHERE p.pronamespace = $1::text::regnamespace
               UNION SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = $1::text""",
            SCHEMA,
        )
        assert [r["owner"] for r in owners] == [MIGRATOR_ROLE]
        assert not await admin.fetchval(
            "SELECT has_table_privilege('portico_app', $1, 'SELECT')", f"{SCHEMA}.outbox"
        )
    finally:
        await admin.close()
    applied = await migrate_services(migrator_url(database_url), [SCHEMA], {SCHEMA: None})
    assert applied == {SCHEMA: []}
    await _start_checks_only(service_url(database_url, SCHEMA))


async def _start_checks_only(url: str) -> None:
    """The database checks a start runs pass for `url`."""
    pool = await create_pool(url, SCHEMA, max_size=1)
    try:
        await check_database(pool, SCHEMA, None)
    finally:
        await pool.close()


def _dbsetup(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "portico_common.dbsetup", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_dbsetup_command_provisions_then_migrates(database_url: str) -> None:
    """`python -m portico_common.dbsetup provision migrate`: roles from the URLs' passwords, then
    the kernel's and the service's migrations; a second run changes nothing."""
    env = {
        "PATH": "/usr/bin:/bin",
        "PORTICO_ADMIN_DATABASE_URL": database_url,
        "PORTICO_MIGRATOR_DATABASE_URL": migrator_url(database_url),
        "PORTICO_TENANCY_DATABASE_URL": service_url(database_url, "tenancy"),
    }
    first = _dbsetup(env, "provision", "migrate", "--service", "tenancy")
    assert first.returncode == 0, first.stderr
    wanted = len(KERNEL) + len(load_migrations("portico_tenancy.migrations", "service"))
    assert f"tenancy: {wanted} migration(s) applied kernel/0001_kernel.sql" in first.stdout
    again = _dbsetup(env, "provision", "migrate", "--service", "tenancy")
    assert again.returncode == 0, again.stderr
    assert "tenancy: 0 migration(s) applied" in again.stdout
    assert database_url.split("@", maxsplit=1)[0] not in first.stdout + first.stderr


def test_the_dbsetup_command_names_what_is_missing(database_url: str) -> None:
    """No administrator URL, or a service URL for the wrong role: exit 1 with the reason."""
    env = {
        "PATH": "/usr/bin:/bin",
        "PORTICO_MIGRATOR_DATABASE_URL": migrator_url(database_url),
        "PORTICO_SLO_DATABASE_URL": service_url(database_url, "slo"),
    }
    missing = _dbsetup(env, "provision", "--service", "slo")
    assert missing.returncode == 1
    assert "provision needs PORTICO_ADMIN_DATABASE_URL" in missing.stderr
    env["PORTICO_ADMIN_DATABASE_URL"] = database_url
    env["PORTICO_SLO_DATABASE_URL"] = service_url(database_url, "rollout")
    wrong = _dbsetup(env, "provision", "--service", "slo")
    assert wrong.returncode == 1
    assert "PORTICO_SLO_DATABASE_URL as portico_slo" in wrong.stderr
    del env["PORTICO_MIGRATOR_DATABASE_URL"]
    no_migrator = _dbsetup(env, "migrate", "--service", "slo")
    assert no_migrator.returncode == 1
    assert "migrate needs PORTICO_MIGRATOR_DATABASE_URL" in no_migrator.stderr


async def test_the_dbsetup_move_command_moves_a_tenant_to_any_tier(database_url: str) -> None:
    """`dbsetup move --to silo`, then `--to pool`: the tenant's rows follow, each run says
    where the tenant is and what moved; a tier that is not one is refused on one line."""
    env = {
        "PATH": "/usr/bin:/bin",
        "PORTICO_ADMIN_DATABASE_URL": database_url,
        "PORTICO_MIGRATOR_DATABASE_URL": migrator_url(database_url),
        "PORTICO_SLO_DATABASE_URL": service_url(database_url, "slo"),
    }
    assert _dbsetup(env, "provision", "migrate", "--service", "slo").returncode == 0
    migrator = await asyncpg.connect(migrator_url(database_url))
    try:
        async with migrator.transaction():
            await migrator.execute("SELECT set_config('app.tenant_id', '*', true)")
            await migrator.execute(
                """INSERT INTO slo.idempotency_keys (tenant_id, key, method, request_hash, state)
                   VALUES ('acme', 'k1', '/m', '\\x00', 'done')"""
            )
    finally:
        await migrator.close()
    silo = silo_database(database_url.rpartition("/")[2], "acme")
    try:
        to_silo = _dbsetup(env, "move", "--tenant", "acme", "--to", "silo", "--service", "slo")
        assert to_silo.returncode == 0, to_silo.stderr
        assert f"slo: acme in silo {silo}: idempotency_keys 1" in to_silo.stdout
        back = _dbsetup(env, "move", "--tenant", "acme", "--to", "pool", "--service", "slo")
        assert back.returncode == 0, back.stderr
        assert "slo: acme in pool: idempotency_keys 1" in back.stdout
        again = _dbsetup(env, "move", "--tenant", "acme", "--to", "pool", "--service", "slo")
        assert "slo: acme in pool: nothing to move" in again.stdout
        admin = await asyncpg.connect(database_url)
        try:
            assert (
                await admin.fetchval(
                    "SELECT key FROM slo.idempotency_keys WHERE tenant_id = 'acme'"
                )
                == "k1"
            )
        finally:
            await admin.close()
        wrong = _dbsetup(env, "move", "--tenant", "acme", "--to", "moon", "--service", "slo")
        assert (wrong.returncode, wrong.stderr) == (
            2,
            "dbsetup: move --to must be pool, bridge or silo, not 'moon'\n",
        )
    finally:
        admin = await asyncpg.connect(database_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{silo}" WITH (FORCE)')
        finally:
            await admin.close()


async def test_a_move_cut_short_in_one_service_says_where_the_tenant_is_and_finishes_rerun(
    database_url: str,
) -> None:
    """Each service moves on its own: when the second fails, the command names the error,
    the services moved and those not, and the same command, run again once the cause is
    gone, finishes the move (the moved service is left as it is)."""
    env = {
        "PATH": "/usr/bin:/bin",
        "PORTICO_ADMIN_DATABASE_URL": database_url,
        "PORTICO_MIGRATOR_DATABASE_URL": migrator_url(database_url),
        "PORTICO_SLO_DATABASE_URL": service_url(database_url, "slo"),
        "PORTICO_ROLLOUT_DATABASE_URL": service_url(database_url, "rollout"),
    }
    assert _dbsetup(env, "provision", "migrate", "--service", "slo").returncode == 0
    move = ("move", "--tenant", "acme", "--to", "bridge", "--service", "slo")
    cut = _dbsetup(env, *move, "--service", "rollout")
    assert cut.returncode == 1
    assert "slo: acme in bridge" in cut.stdout
    assert cut.stderr.startswith("dbsetup: rollout: "), cut.stderr
    assert (
        "acme is in bridge in: slo; not moved: rollout. Run the same command again to finish"
        in cut.stderr
    )
    assert _dbsetup(env, "provision", "migrate", "--service", "rollout").returncode == 0
    rerun = _dbsetup(env, *move, "--service", "rollout")
    assert rerun.returncode == 0, rerun.stderr
    assert f"slo: acme in bridge {bridge_schema('slo', 'acme')}: nothing to move" in rerun.stdout
    assert f"rollout: acme in bridge {bridge_schema('rollout', 'acme')}" in rerun.stdout
