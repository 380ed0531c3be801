"""`python -m portico_common.dbsetup provision migrate`: the database, set up before any service.

Two steps, each its own login, so that no service process ever holds more
than its own role:

- `provision` (an administrator: a role that may create roles and schemas)
  creates the migrator and one role per service with their passwords, the
  schemas owned by the migrator, and CONNECT for these roles only
  (`portico_common.provision`).
- `migrate` (the migrator) applies each service's pending migrations to its
  schema and grants the service's role its tables (`portico_common.migrate`).

`portico up` calls the same functions in-process before it starts the
services; Compose runs this module as a one-shot service, Helm as a Job.

`migrate` also migrates every bridge schema and silo database a service's
placements name.

Per tenant, with both the administrator's and the migrator's URLs
(`portico_common.placement`, docs/tenancy-isolation.md):

- `place --tenant T --isolation bridge|silo` gives a new tenant its own
  schema in each service's database, or its own database, before it has rows;
- `move --tenant T --to pool|bridge|silo --service S` moves a tenant's rows
  of service S from whichever tier it is in to another (default: bridge),
  all or nothing from the tenant's view; run again, it finishes a move a
  crash cut short;
- `place-pending [--watch SECONDS]` places every tenant tenancy created with
  isolation bridge or silo and waits for, retrying failures with backoff, and
  drops the place of every such tenant tenancy has deleted
  (`portico_common.placer`): once, or as a long-running placer.
Settings: `DatabaseSetupSettings` (PORTICO_ADMIN_DATABASE_URL,
PORTICO_MIGRATOR_DATABASE_URL, PORTICO_<SERVICE>_DATABASE_URL, and
PORTICO_DATABASE_TLS_CA_FILE for sslmode=verify-full, as the services use).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import ssl
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import NoReturn
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import asyncpg

from portico_common.db import MIGRATOR_ROLE, Tier, platform_role, service_role
from portico_common.errors import (
    DatabaseSetupError,
    MigrationError,
    PorticoError,
    TlsConfigError,
)
from portico_common.events.topology import SERVICES, tenant_data_services
from portico_common.logs import configure_logging
from portico_common.migrate import migrate
from portico_common.placement import migrate_places, move_tenant, place_tenant
from portico_common.placer import drop_deleted, place_pending, record_move, run_placer
from portico_common.provision import RolePasswords, provision
from portico_common.settings import DatabaseSetupSettings
from portico_common.tenants import require_tenant_id
from portico_common.tls import database_ssl_context

STEPS = ("provision", "migrate")
TENANT_STEPS = ("place", "move")
PLACER_STEP = "place-pending"


def migrations_package(service: str) -> str:
    """Where a service ships its migrations: `portico_<service>.migrations`."""
    return f"portico_{service}.migrations"


def role_url(url: str, role: str, password: str) -> str:
    """`url` (host, port, database, parameters) logging in as `role` with `password`."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{quote(role, safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def url_user(url: str) -> str:
    return unquote(urlsplit(url).username or "")


def url_password(url: str) -> str:
    return unquote(urlsplit(url).password or "")


async def provision_database(
    admin_url: str, passwords: RolePasswords, *, ssl_context: ssl.SSLContext | None = None
) -> None:
    """Logs in as the administrator and provisions the migrator and the services' roles."""
    conn = await asyncpg.connect(admin_url, ssl=ssl_context)
    try:
        await provision(conn, passwords)
    finally:
        await conn.close()


async def migrate_services(
    migrator_url: str,
    services: Iterable[str],
    packages: Mapping[str, str | None] | None = None,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> dict[str, list[str]]:
    """Logs in as the migrator and migrates each service's schema; returns what was applied.

    A service's bridge schemas and silo databases (its placements) are
    migrated right after its shared schema, so an upgrade reaches every
    tenant's place in the same run: keys `<service>` and `<service> in <place>`.
    """
    conn = await asyncpg.connect(migrator_url, ssl=ssl_context)
    applied: dict[str, list[str]] = {}
    try:
        for service in services:
            package = (packages or {}).get(service, migrations_package(service))
            applied[service] = await migrate(conn, service, package)
            placed = await migrate_places(
                conn, migrator_url, service, package, ssl_context=ssl_context
            )
            for place, keys in placed.items():
                applied[f"{service} in {place.tier} {place.location}"] = keys
    finally:
        await conn.close()
    return applied


def passwords_from(settings: DatabaseSetupSettings, services: Sequence[str]) -> RolePasswords:
    """The roles' passwords, each read from the URL that role logs in with."""
    urls = {MIGRATOR_ROLE: settings.migrator_database_url.get_secret_value()}
    urls |= {service_role(s): settings.service_url(s) for s in services}
    missing = [role for role, url in urls.items() if not url_password(url)]
    if missing:
        names = ", ".join(_variable(role) for role in missing)
        raise DatabaseSetupError(f"provision needs each role's URL with its password: set {names}")
    wrong = [role for role, url in urls.items() if url_user(url) != role]
    if wrong:
        raise DatabaseSetupError(
            "each URL must log in as its own role: "
            + ", ".join(f"{_variable(role)} as {role}" for role in wrong)
        )
    platforms = {s: settings.platform_url(s) for s in services if settings.platform_url(s)}
    wrong = [s for s, url in platforms.items() if url_user(url) != platform_role(s)]
    if wrong:
        raise DatabaseSetupError(
            "each platform URL must log in as its service's platform role: "
            + ", ".join(
                f"PORTICO_{s.upper()}_PLATFORM_DATABASE_URL as {platform_role(s)}" for s in wrong
            )
        )
    return RolePasswords(
        migrator=url_password(urls[MIGRATOR_ROLE]),
        services={s: url_password(urls[service_role(s)]) for s in services},
        platforms={s: url_password(url) for s, url in platforms.items()},
    )


def _variable(role: str) -> str:
    name = "MIGRATOR" if role == MIGRATOR_ROLE else role.removeprefix("portico_").upper()
    return f"PORTICO_{name}_DATABASE_URL"


async def run(
    steps: Sequence[str], services: Sequence[str], settings: DatabaseSetupSettings
) -> None:
    tls = database_ssl_context(settings)
    if "provision" in steps:
        admin = settings.admin_database_url.get_secret_value()
        if not admin:
            raise DatabaseSetupError("provision needs PORTICO_ADMIN_DATABASE_URL")
        await provision_database(admin, passwords_from(settings, services), ssl_context=tls)
        print(f"provisioned {MIGRATOR_ROLE} and the roles of {', '.join(services)}", flush=True)
    if "migrate" in steps:
        migrator = settings.migrator_database_url.get_secret_value()
        if not migrator:
            raise DatabaseSetupError("migrate needs PORTICO_MIGRATOR_DATABASE_URL")
        applied = await migrate_services(migrator, services, ssl_context=tls)
        for service, keys in applied.items():
            print(
                f"{service}: {len(keys)} migration(s) applied {' '.join(keys)}".rstrip(), flush=True
            )


async def run_tenant_step(
    step: str, tenant: str, tier: Tier, services: Sequence[str], settings: DatabaseSetupSettings
) -> None:
    """Places a tenant in a bridge or silo, or moves it to `tier` from wherever it is."""
    tls = database_ssl_context(settings)
    admin = settings.admin_database_url.get_secret_value()
    migrator = settings.migrator_database_url.get_secret_value()
    if not admin or not migrator:
        raise DatabaseSetupError(
            f"{step} needs PORTICO_ADMIN_DATABASE_URL and PORTICO_MIGRATOR_DATABASE_URL"
        )
    packages = {s: migrations_package(s) for s in services}
    if step == "place":
        place = await place_tenant(admin, migrator, tenant, tier, packages, ssl_context=tls)
        print(f"placed {tenant} in {place.tier} ({', '.join(services)})", flush=True)
        return
    places = []
    for done, service in enumerate(services):
        try:
            place, moved = await move_tenant(
                admin, migrator, tenant, service, packages[service], tier, ssl_context=tls
            )
        except (PorticoError, asyncpg.PostgresError, OSError) as exc:
            raise DatabaseSetupError(
                move_cut_short(tenant, tier, services[:done], services[done:], exc)
            ) from exc
        places.append(place)
        counts = ", ".join(f"{t} {n}" for t, n in moved.items() if n) or "nothing to move"
        where = f"{place.tier} {place.location}".rstrip()
        print(f"{service}: {tenant} in {where}: {counts}", flush=True)
    # Only a tenant moved in every placed service has one tier to record.
    if set(services) >= set(placed_services()) and places:
        if await record_move(migrator, tenant, places[-1], services, ssl_context=tls):
            print(f"tenancy: {tenant} recorded in {tier}", flush=True)
    else:
        print(
            f"tenancy: {tenant} keeps its recorded tier: not every service moved"
            f" ({', '.join(sorted(set(placed_services()) - set(services)))} did not)",
            flush=True,
        )


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] in TENANT_STEPS:
        return tenant_main(argv)
    if argv and argv[0] == PLACER_STEP:
        return placer_main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m portico_common.dbsetup",
        description="Provision the database's roles (as an administrator) and migrate every"
        " service's schema (as the migrator), before the services start.",
    )
    parser.add_argument("steps", nargs="+", choices=STEPS, help="provision, migrate, or both")
    parser.add_argument(
        "--service",
        action="append",
        choices=SERVICES,
        help="only this service (repeatable); default: every service",
    )
    args = parser.parse_args(argv)
    services = tuple(args.service or SERVICES)
    steps = [step for step in STEPS if step in args.steps]
    try:
        asyncio.run(run(steps, services, DatabaseSetupSettings()))
    except (
        DatabaseSetupError,
        MigrationError,
        TlsConfigError,
        asyncpg.PostgresError,
        OSError,
    ) as exc:
        print(f"dbsetup: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


def placed_services() -> tuple[str, ...]:
    """The services a tenant is placed in by default: those keeping tenant data, but auth.

    Auth's clients and keys are platform rows its handlers reach with
    ALL_TENANTS, on the shared tables; a bridge of its own would hold only the
    tenant's idempotency keys, apart from the effects they guard.
    """
    return tuple(s for s in tenant_data_services() if s != "auth")


def _parse_with_placed_services(
    parser: argparse.ArgumentParser, argv: Sequence[str]
) -> tuple[argparse.Namespace, tuple[str, ...]]:
    """Adds --service to a placement command; its arguments and the services it covers."""
    parser.add_argument(
        "--service",
        action="append",
        choices=SERVICES,
        help="only this service (repeatable); default: every service keeping tenant data but auth",
    )
    args = parser.parse_args(argv)
    return args, tuple(args.service or placed_services())


class _OneLineParser(argparse.ArgumentParser):
    """Bad arguments are told on one line, as every other error of the command is."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"dbsetup: {message}\n")


def tenant_main(argv: Sequence[str]) -> int:
    parser = _OneLineParser(
        prog="python -m portico_common.dbsetup",
        description="Place a new tenant in its own schema (bridge) or database (silo)"
        " (`place --isolation bridge|silo`), or move a tenant between any two tiers"
        " (`move --to pool|bridge|silo`, default bridge); as the administrator and the migrator.",
    )
    parser.add_argument("step", choices=TENANT_STEPS)
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--isolation", help="place: bridge or silo")
    parser.add_argument("--to", help="move: pool, bridge or silo (default bridge)")
    args, services = _parse_with_placed_services(parser, argv)
    try:
        tier = tenant_step_tier(args.step, args.isolation, args.to)
        require_tenant_id(args.tenant, "--tenant")
    except PorticoError as exc:
        print(f"dbsetup: {exc}", file=sys.stderr, flush=True)
        return 2
    try:
        asyncio.run(
            run_tenant_step(args.step, args.tenant, tier, services, DatabaseSetupSettings())
        )
    except (PorticoError, asyncpg.PostgresError, OSError) as exc:
        print(f"dbsetup: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


def move_cut_short(
    tenant: str, tier: Tier, moved: Sequence[str], left: Sequence[str], error: Exception
) -> str:
    """What a move that failed in one service says: each service moves in a transaction of
    its own, so the tenant is split until the same command, run again, finishes it."""
    return (
        f"{left[0]}: {error}. {tenant} is in {tier} in: {', '.join(moved) or 'no service yet'};"
        f" not moved: {', '.join(left)}. Run the same command again to finish: services"
        f" already in {tier} are left as they are, and tenancy records {tier} once all have"
        " moved"
    )


def tenant_step_tier(step: str, isolation: str | None, to: str | None) -> Tier:
    """The tier `place --isolation` or `move --to` names; DatabaseSetupError if none fits."""
    if step == "place":
        if to is not None:
            raise DatabaseSetupError("place takes --isolation bridge|silo, not --to")
        if isolation not in {Tier.BRIDGE, Tier.SILO}:
            raise DatabaseSetupError(
                f"place needs --isolation bridge or silo, not {isolation!r}"
                if isolation is not None
                else "place needs --isolation bridge or silo"
            )
        return Tier(isolation)
    # `move` takes `--isolation` too, the word `place` uses, as long as it agrees.
    if isolation is not None and to is not None and isolation != to:
        raise DatabaseSetupError(f"move got --to {to} and --isolation {isolation}: give one")
    goal = to or isolation or Tier.BRIDGE
    if goal not in set(Tier):
        raise DatabaseSetupError(f"move --to must be pool, bridge or silo, not {goal!r}")
    return Tier(goal)


def placer_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m portico_common.dbsetup place-pending",
        description="Place every bridge or silo tenant tenancy is waiting for (created with"
        " isolation bridge or silo), and drop the schemas or database of those it has deleted,"
        " as the administrator and the migrator; once, or every --watch seconds until stopped.",
    )
    parser.add_argument("--watch", type=float, default=0.0, help="seconds between passes")
    args, services = _parse_with_placed_services(parser, argv)
    if args.watch > 0:
        # A long-running placer (a Deployment, a Compose service) logs what it
        # places and drops, and why it failed, as the services log.
        configure_logging(
            "placer",
            os.environ.get("PORTICO_LOG_LEVEL", "INFO"),
            os.environ.get("PORTICO_LOG_FORMAT", "json"),
        )
    try:
        asyncio.run(run_placer_step(services, DatabaseSetupSettings(), args.watch))
    except (PorticoError, asyncpg.PostgresError, OSError) as exc:
        print(f"dbsetup: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


async def run_placer_step(
    services: Sequence[str], settings: DatabaseSetupSettings, watch: float
) -> None:
    tls = database_ssl_context(settings)
    admin = settings.admin_database_url.get_secret_value()
    migrator = settings.migrator_database_url.get_secret_value()
    if not admin or not migrator:
        raise DatabaseSetupError(
            "place-pending needs PORTICO_ADMIN_DATABASE_URL and PORTICO_MIGRATOR_DATABASE_URL"
        )
    packages = {s: migrations_package(s) for s in services}
    if watch > 0:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signal_number, stop.set)
        await run_placer(admin, migrator, packages, stop, every_seconds=watch, ssl_context=tls)
        return
    for placed in await place_pending(admin, migrator, packages, limit=1000, ssl_context=tls):
        where = "" if placed.place is None else f"{placed.place.tier} {placed.place.location}"
        print(f"{placed.tenant_id}: {where or 'failed: ' + placed.error}", flush=True)
    for dropped in await drop_deleted(admin, migrator, packages, limit=1000, ssl_context=tls):
        outcome = (
            f"failed to drop its place: {dropped.error}"
            if dropped.error
            else f"deleted, dropped {', '.join(dropped.dropped)}"
        )
        print(f"{dropped.tenant_id}: {outcome}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
