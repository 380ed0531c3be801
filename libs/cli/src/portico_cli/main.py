"""The `portico` command: `up`, `status`, `demo`, `check` and `nats-config`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from portico_cli.errors import CliError, NotRunningError
from portico_cli.paths import default_home

#: Exit code when no suite is running (as `systemctl status` uses it).
EXIT_NOT_RUNNING = 3


class TlsEofNoise(logging.Filter):
    """Drops asyncio's warning that a stream asked to stay half-open over TLS.

    nats-py upgrades its connection with `start_tls` under a stream protocol
    that answers a peer's close by asking to stay half-open, which TLS
    cannot; asyncio warns and closes the connection as it should. Over the
    suite's TLS NATS, `portico demo` ended with that line on every run.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("returning true from eof_received()")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="portico", description="Run and try the Portico plugin control plane locally."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    home_help = "state directory (default: $PORTICO_HOME or .portico)"

    up = commands.add_parser(
        "up",
        help="start NATS, PostgreSQL, every service and the gateway; stop on Ctrl-C",
        description="Start the suite in the foreground. With PORTICO_NATS_URL set, uses that"
        " NATS; with PORTICO_ADMIN_DATABASE_URL (an account that may create roles), or with"
        " PORTICO_<SERVICE>_DATABASE_URL for every service (roles you provisioned), uses that"
        " PostgreSQL instead of the embedded one.",
    )
    up.add_argument("--home", type=Path, default=None, help=home_help)
    up.add_argument(
        "--gateway-port",
        type=int,
        default=None,
        help="HTTP port of the gateway (default: $PORTICO_GATEWAY_PORT, else 8080 or,"
        " when 8080 is taken, a free port; 0 for a free port)",
    )

    status = commands.add_parser("status", help="health of every service and the gateway")
    status.add_argument("--home", type=Path, default=None, help=home_help)

    demo = commands.add_parser(
        "demo",
        help="run the happy path and the rollback path against the running suite",
        description="Drives the gateway's HTTP API through a canary that completes and"
        " one that an SLO violation rolls back, printing the domain events as they happen.",
    )
    demo.add_argument("--home", type=Path, default=None, help=home_help)
    demo.add_argument(
        "--bake-seconds",
        type=int,
        default=1,
        help="bake time of each phase of the happy-path rollout (default: 1)",
    )
    demo.add_argument(
        "--rollback-bake-seconds",
        type=int,
        default=30,
        help="bake time of the rollout that gets rolled back (default: 30)",
    )
    check = commands.add_parser(
        "check",
        help="check a plugin package against a tenant's host (report, release, version)",
        description="Check PACKAGE_JSON, a TARBALL (.tgz from npm pack) or NAME@VERSION (from"
        " compat's npm catalog) against the tenant's host through the gateway: the"
        " compatibility report, the earliest known Backstage release it fits and the newest"
        " version of it that fits the host. Exit 0 when compatible, 2 when not.",
    )
    check.add_argument("target", metavar="PACKAGE_JSON|TARBALL|NAME@VERSION")
    check.add_argument("--tenant", required=True, help="the tenant whose host is checked")
    check.add_argument(
        "--installed", default="", metavar="VERSION", help="the version installed now (upgrade)"
    )
    check.add_argument("--home", type=Path, default=None, help=home_help)
    nats_config = commands.add_parser(
        "nats-config",
        help="write the NATS users, seeds and env files for docker compose and Helm",
        description="Write the NATS server's users (nats-auth.conf, and values for the NATS"
        " Helm chart), one nkey seed per identity (<identity>.nk, 0600) and, for compose, one"
        " env file per service (<service>.env, 0600). Seeds already in the directory are"
        " kept; no seed is ever printed.",
    )
    nats_config.add_argument(
        "--out",
        type=Path,
        default=None,
        help="directory to write (default: .secrets/nats, where docker-compose.yml looks)",
    )
    nats_config.add_argument(
        "--rotate",
        nargs="*",
        metavar="IDENTITY",
        default=None,
        help="replace these identities' seeds (all of them when none is named)",
    )
    return parser


def _command(args: argparse.Namespace, home: Path) -> int:
    """The commands that neither start nor inspect the suite."""
    if args.command == "check":
        from portico_cli import check

        return check.run(home, args.target, args.tenant, installed_version=args.installed)
    if args.command == "nats-config":
        from portico_cli import nats_config

        out = args.out if args.out is not None else nats_config.DEFAULT_DIR
        return nats_config.run(out, args.rotate)
    from portico_cli import demo

    return demo.run(
        home, bake_seconds=args.bake_seconds, rollback_bake_seconds=args.rollback_bake_seconds
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.getLogger("asyncio").addFilter(TlsEofNoise())
    # Every command but nats-config works on a home (nats-config writes where it is told).
    home = Path(default_home()) if getattr(args, "home", None) is None else args.home
    try:
        if args.command == "up":
            from portico_cli import up

            port = up.gateway_port_from(args.gateway_port)
            return up.run(up.UpOptions(home=home, gateway_port=port))
        if args.command == "status":
            from portico_cli import status

            return status.run(home)
        return _command(args, home)
    except NotRunningError as exc:
        print(f"portico: {exc}", file=sys.stderr)
        return EXIT_NOT_RUNNING
    except CliError as exc:
        print(f"portico: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
