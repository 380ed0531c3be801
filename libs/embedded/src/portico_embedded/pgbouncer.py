"""A PgBouncer (Debian's `pgbouncer` package) in transaction pooling, in front of a PostgreSQL.

`make pgbouncer` puts the binary in `.tools/bin` where the machine has none on
PATH. Every database name the clients ask for (`* =`) goes to the same server,
so a silo database is reached through the same PgBouncer. Each role logs in to
PgBouncer and to PostgreSQL with the password given for it in `users`
(scram-sha-256 both ways, as the embedded PostgreSQL asks).

PgBouncer cannot listen on port 0: the launcher chooses a free port, and if
another process takes it first (PgBouncer exits saying so), chooses again.
Started as root, PgBouncer (which refuses to run as root) switches to the
embedded PostgreSQL's system user.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from portico_embedded.errors import LauncherError
from portico_embedded.postgres import server_user
from portico_embedded.processes import REPO_TOOLS, free_port, terminate, tool_binary, wait_for

_REPO_TOOLS = REPO_TOOLS / "pgbouncer"
PORT_ATTEMPTS = 5


def pgbouncer_binary() -> str:
    """PORTICO_PGBOUNCER_BIN, else `pgbouncer` on PATH, else the repository's .tools/bin."""
    return tool_binary("pgbouncer", "PORTICO_PGBOUNCER_BIN", _REPO_TOOLS)


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


@dataclass
class PgBouncer:
    """Transaction pooling in front of PostgreSQL at `server_port`, `pool_size` server
    connections per role and database, for the roles (and passwords) in `users`."""

    work_dir: Path
    server_port: int
    users: Mapping[str, str] = field(repr=False)
    pool_size: int = 1
    port: int = 0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path:
        return self.work_dir / "pgbouncer.log"

    def url(self, role: str, database: str) -> str:
        return f"postgresql://{role}:{self.users[role]}@127.0.0.1:{self.port}/{database}"

    def start(self, timeout: float = 30.0) -> PgBouncer:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        binary = pgbouncer_binary()
        userlist = self.work_dir / "userlist.txt"
        userlist.write_text("".join(f"{_quoted(r)} {_quoted(p)}\n" for r, p in self.users.items()))
        userlist.chmod(0o600)
        last = ""
        for _ in range(PORT_ATTEMPTS):
            port = free_port()
            config = self._write_config(port, userlist)
            with self.log_path.open("wb") as log:
                self.proc = subprocess.Popen(  # noqa: S603 - our own binary and arguments
                    [binary, str(config)], stdout=log, stderr=subprocess.STDOUT
                )
            try:
                wait_for(partial(_accepts, port), "pgbouncer", timeout, self.proc)
            except LauncherError as exc:
                terminate(self.proc)
                self.proc = None
                last = f"{exc}; its log said:\n{self.log_path.read_text(errors='replace')[-2000:]}"
                if "Address already in use" in last:
                    continue
                raise LauncherError(last) from exc
            self.port = port
            return self
        raise LauncherError(last)

    def _write_config(self, port: int, userlist: Path) -> Path:
        config = self.work_dir / "pgbouncer.ini"
        user = server_user()
        config.write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={self.server_port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {port}\n"
            "unix_socket_dir =\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {self.pool_size}\n"
            "min_pool_size = 0\n"
            "reserve_pool_size = 0\n"
            "max_client_conn = 200\n"
            "auth_type = scram-sha-256\n"
            f"auth_file = {userlist}\n"
            # What asyncpg sends at startup besides the parameters PgBouncer tracks.
            "ignore_startup_parameters = extra_float_digits\n"
            "server_reset_query =\n" + (f"user = {user}\n" if os.getuid() == 0 and user else "")
        )
        if os.getuid() == 0 and user:
            shutil.chown(config, user)
            shutil.chown(userlist, user)
        return config

    def stop(self) -> None:
        terminate(self.proc)
        self.proc = None


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False
