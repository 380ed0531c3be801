"""The embedded PostgreSQL starts from any directory and never loses a start to a port race."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from portico_embedded import postgres
from portico_embedded.postgres import PostgresServer, reachable

pytestmark = pytest.mark.integration

PW = secrets.token_hex(16)


@pytest.fixture
def private_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory only its owner may enter, as `mktemp -d` or a 0700 home makes."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    yield private
    private.chmod(0o700)


async def _sql(server: PostgresServer, sql: str) -> object:
    conn = await asyncpg.connect(server.url)
    try:
        if sql.startswith("SELECT"):
            return await conn.fetchval(sql)
        return await conn.execute(sql)
    finally:
        await conn.close()


def _answers(server: PostgresServer) -> int:
    return asyncio.run(_select_one(server))


async def _select_one(server: PostgresServer) -> int:
    conn = await asyncpg.connect(server.url)
    try:
        return int(await conn.fetchval("SELECT 1"))
    finally:
        await conn.close()


def test_starts_inside_a_private_directory_without_touching_its_mode(
    private_dir: Path,
) -> None:
    """Data asked for in a 0700 directory works, and the directory stays 0700."""
    server = PostgresServer(
        private_dir / "pg" / "data", database="postgres", fsync=False, password=PW
    )
    try:
        server.start()
        assert _answers(server) == 1
        assert stat.S_IMODE(private_dir.stat().st_mode) == 0o700
        assert server.data_dir.resolve().joinpath("PG_VERSION").exists()
    finally:
        server.stop()
        server.remove()
    assert not server.data_dir.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the server as another user")
def test_as_root_data_out_of_reach_lives_in_the_stage_behind_a_symlink(
    private_dir: Path,
) -> None:
    """As root, unreachable data is placed in the stage; a restart finds the same data."""
    data = private_dir / "data"
    server = PostgresServer(data, database="postgres", fsync=False, password=PW)
    try:
        server.start()
        assert not reachable(private_dir / "x")
        assert data.is_symlink()
        assert data.resolve().is_relative_to(postgres.stage_dir())
        asyncio.run(_sql(server, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)"))
        server.restart()
        assert asyncio.run(_sql(server, "SELECT n FROM kept")) == 7
    finally:
        server.stop()
        server.remove()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root stages data for another user")
def test_as_root_a_deleted_data_path_starts_afresh_and_its_staged_data_goes(
    private_dir: Path,
) -> None:
    """Deleting the data path (as the error for unreachable data advises) is a fresh start.

    The staged data of the deleted path goes, and a server asked for at the
    same path with another password starts empty instead of refusing it.
    """
    data = private_dir / "data"
    first = PostgresServer(data, database="postgres", fsync=False, password=PW)
    again = PostgresServer(data, database="postgres", fsync=False, password=secrets.token_hex(16))
    try:
        first.start()
        staged = data.resolve()
        asyncio.run(_sql(first, "CREATE TABLE kept (n int)"))
        first.stop()
        data.unlink()
        again.start()
        assert data.resolve() == staged
        assert asyncio.run(_sql(again, "SELECT to_regclass('kept')::text")) is None
    finally:
        first.stop()
        again.stop()
        again.remove()
    assert not staged.exists()
    assert not staged.with_name(staged.name + postgres.OWNER_SUFFIX).exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root stages data for another user")
def test_as_root_staged_data_of_a_deleted_temporary_home_is_swept_once_stopped(
    private_dir: Path,
) -> None:
    """A throwaway home deleted without a word leaves nothing in the stage, once stopped.

    Its data survives the sweep while its server still runs.
    """
    data = private_dir / "data"
    server = PostgresServer(data, database="postgres", fsync=False, password=PW)
    try:
        server.start()
        staged = data.resolve()
        data.unlink()
        assert postgres.sweep_orphans(staged.parent) == []
        assert _answers(server) == 1
        server.stop()
        assert staged in postgres.sweep_orphans(staged.parent)
        assert not staged.exists()
        assert not staged.with_name(staged.name + postgres.OWNER_SUFFIX).exists()
    finally:
        server.stop()
        shutil.rmtree(staged, ignore_errors=True)


def test_the_sweep_spares_data_that_a_path_still_leads_to_or_that_may_have_moved(
    tmp_path: Path,
) -> None:
    """Only throwaway owners (under the temporary directory) that lead elsewhere are swept."""
    stage = tmp_path / "stage"
    stage.mkdir()

    def staged(name: str, owner: Path) -> Path:
        data = stage / name
        data.mkdir()
        (stage / f"{name}{postgres.OWNER_SUFFIX}").write_text(str(owner))
        return data

    home = tmp_path / "home"
    home.mkdir()
    in_use = staged("in-use", home / "pg")
    (home / "pg").symlink_to(in_use, target_is_directory=True)
    deleted = staged("deleted", tmp_path / "gone" / "pg")
    staged("elsewhere", Path("/srv/portico-home/.portico/pg"))
    (stage / "unrecorded").mkdir()

    assert postgres.sweep_orphans(stage) == [deleted]
    assert not deleted.exists()
    assert sorted(path.name for path in stage.iterdir()) == [
        "elsewhere",
        f"elsewhere{postgres.OWNER_SUFFIX}",
        "in-use",
        f"in-use{postgres.OWNER_SUFFIX}",
        "unrecorded",
    ]


def test_a_port_taken_before_the_bind_is_retried_on_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When another process takes the chosen port first, the server starts on a new one."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        offered = [taken]
        real_free_port = postgres.free_port
        monkeypatch.setattr(
            postgres, "free_port", lambda: offered.pop() if offered else real_free_port()
        )
        base = tmp_path / "pg"
        base.mkdir(mode=0o711)
        base.chmod(0o711)
        server = PostgresServer(base / "data", database="postgres", fsync=False, password=PW)
        try:
            server.start()
            assert server.port != taken
            assert not offered, "the taken port was offered first"
            assert _answers(server) == 1
        finally:
            server.stop()
            server.remove()


def test_a_fixed_port_that_is_taken_fails_with_the_reason(tmp_path: Path) -> None:
    """A port the caller fixed is not silently changed: the start fails and says so."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        server = PostgresServer(
            tmp_path / "data", port=squatter.getsockname()[1], fsync=False, password=PW
        )
        try:
            with pytest.raises(postgres.LauncherError, match="exited with code"):
                server.start(timeout=30)
            assert "Address already in use" in server.log_path.read_text()
        finally:
            server.stop()
            server.remove()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PostgresServer]:
    """A started server on a fresh data directory, removed afterwards."""
    base = tmp_path / "pg"
    base.mkdir(mode=0o711)
    base.chmod(0o711)
    started = PostgresServer(base / "data", database="postgres", fsync=False, password=PW)
    try:
        yield started.start()
    finally:
        started.stop()
        started.remove()


def _hba_methods(server: PostgresServer) -> set[str]:
    rows = asyncio.run(_rows(server.url, "SELECT auth_method FROM pg_hba_file_rules"))
    return {row["auth_method"] for row in rows}


async def _rows(url: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


def test_every_connection_authenticates_with_scram(server: PostgresServer) -> None:
    """pg_hba.conf holds scram-sha-256 only: no `trust` line for TCP or the socket."""
    assert _hba_methods(server) == {"scram-sha-256"}
    assert "trust" not in server.data_dir.joinpath("pg_hba.conf").read_text()
    stored = asyncio.run(
        _rows(server.url, "SELECT rolpassword FROM pg_authid WHERE rolname = 'postgres'")
    )
    assert stored[0]["rolpassword"].startswith("SCRAM-SHA-256$")


def test_a_wrong_or_missing_password_is_refused(server: PostgresServer) -> None:
    """Only the superuser's password logs in; another or none is refused."""
    wrong = server.url.replace(PW, "not" + PW[3:])
    with pytest.raises(asyncpg.InvalidPasswordError):
        asyncio.run(_rows(wrong, "SELECT 1"))
    bare = server.url.replace(f":{PW}@", "@")
    with pytest.raises((asyncpg.InvalidPasswordError, asyncpg.ClientCannotConnectError)):
        asyncio.run(_rows(bare, "SELECT 1"))
    assert _answers(server) == 1


def test_the_password_never_appears_on_a_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """initdb, the server, pg_isready and psql get the password by file or environment only."""
    argvs: list[str] = []
    real_run, real_popen = postgres.subprocess.run, postgres.subprocess.Popen

    def run(argv: list[str], *args: object, **kwargs: object) -> object:
        argvs.append(" ".join(argv))
        return real_run(argv, *args, **kwargs)  # type: ignore[call-overload]

    def popen(argv: list[str], *args: object, **kwargs: object) -> object:
        argvs.append(" ".join(argv))
        return real_popen(argv, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(postgres.subprocess, "run", run)
    monkeypatch.setattr(postgres.subprocess, "Popen", popen)
    base = tmp_path / "pg"
    base.mkdir(mode=0o711)
    base.chmod(0o711)
    server = PostgresServer(base / "data", database="portico", fsync=False, password=PW)
    try:
        server.start()
        assert _answers(server) == 1
    finally:
        server.stop()
        server.remove()
    assert any("initdb" in argv for argv in argvs)
    assert any("--pwfile=" in argv for argv in argvs)
    assert not [argv for argv in argvs if PW in argv]
    assert not list(base.glob(".pwfile-*")), "the password file outlived initdb"


def test_a_server_without_a_password_is_refused(tmp_path: Path) -> None:
    """The launcher will not make a cluster with an empty (or URL-unsafe) superuser password."""
    for password in ("", "has space", "quote'"):
        with pytest.raises(postgres.LauncherError, match="alphanumeric password"):
            PostgresServer(tmp_path / "data", password=password).start()


def test_a_trusting_data_directory_is_hardened_on_start(tmp_path: Path) -> None:
    """Data made with `--auth=trust` gets the password and loses every trust line."""
    base = tmp_path / "pg"
    base.mkdir(mode=0o711)
    base.chmod(0o711)
    data_dir = base / "data"
    user = postgres.server_user()
    bin_dir = postgres.binaries(user)
    data = postgres.place_data_dir(data_dir, user)
    subprocess.run(  # noqa: S603 - the launcher's own initdb, as an earlier version ran it
        [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync"],
        check=True,
        capture_output=True,
        cwd=data,
        **postgres._as_user(user),  # type: ignore[call-overload]
    )
    assert postgres.trusts_anyone(data)
    server = PostgresServer(data_dir, database="portico", fsync=False, password=PW)
    try:
        server.start()
        assert not postgres.trusts_anyone(data)
        assert _hba_methods(server) == {"scram-sha-256"}
        with pytest.raises(asyncpg.InvalidPasswordError):
            asyncio.run(_rows(server.url.replace(PW, "x" + PW[1:]), "SELECT 1"))
        server.restart()
        assert _answers(server) == 1
    finally:
        server.stop()
        server.remove()


_OWNER = """
import sys, time
from pathlib import Path
from portico_embedded.postgres import PostgresServer
server = PostgresServer(Path(sys.argv[1]), database="postgres", fsync=False,
                        password=sys.argv[2], stop_with_owner=sys.argv[3] == "1").start()
print(server.proc.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers signal 0; it is gone for our purpose.
    with contextlib.suppress(FileNotFoundError):
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    return False


def _postmaster_of_a_killed_owner(base: Path, watched: bool) -> int:
    with subprocess.Popen(  # noqa: S603 - fixed argv
        [sys.executable, "-c", _OWNER, str(base / "data"), PW, "1" if watched else "0"],
        stdout=subprocess.PIPE,
        text=True,
    ) as owner:
        assert owner.stdout is not None
        pid = int(owner.stdout.readline())
        owner.kill()
    return pid


@pytest.mark.parametrize("watched", [True, False])
def test_a_server_watching_its_owner_stops_when_the_owner_is_killed(
    tmp_path: Path, watched: bool
) -> None:
    """A test session killed with SIGKILL runs no teardown; its server must not linger."""
    base = tmp_path / "pg"
    base.mkdir(mode=0o711)
    base.chmod(0o711)
    pid = _postmaster_of_a_killed_owner(base, watched)
    try:
        deadline = time.monotonic() + 20
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        # Unwatched, the server outlives its owner: what the option is for.
        assert _alive(pid) is not watched
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGQUIT)
        deadline = time.monotonic() + 20
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        PostgresServer(base / "data", password=PW).remove()


_CRASH_ONCE = """#!/bin/sh
# Dies by SIGSEGV on its first start, as the real binary did once; then the real one.
if [ ! -e "$(dirname "$0")/marks/crashed" ]; then
    touch "$(dirname "$0")/marks/crashed"
    kill -SEGV $$
fi
exec {real}/postgres "$@"
"""


def test_a_server_that_crashes_while_starting_is_started_once_more(tmp_path: Path) -> None:
    """A signal death before the server was ready is retried once; a second one is told."""
    real = postgres.binaries(postgres.server_user())
    bin_dir = Path(tempfile.mkdtemp(prefix="portico-crash-once-"))
    try:
        bin_dir.chmod(0o755)
        for tool in ("initdb", "pg_ctl", "pg_isready", "psql"):
            (bin_dir / tool).symlink_to(real / tool)
        (bin_dir / "marks").mkdir(mode=0o777)
        (bin_dir / "marks").chmod(0o777)
        wrapper = bin_dir / "postgres"
        wrapper.write_text(_CRASH_ONCE.format(real=real))
        wrapper.chmod(0o755)
        base = tmp_path / "pg"
        base.mkdir(mode=0o711)
        base.chmod(0o711)
        server = PostgresServer(
            base / "data", database="postgres", fsync=False, password=PW, bin_dir=bin_dir
        )
        try:
            server.start()
            assert (bin_dir / "marks" / "crashed").exists(), "the first start did not crash"
            assert _answers(server) == 1
        finally:
            server.stop()
            server.remove()
    finally:
        shutil.rmtree(bin_dir, ignore_errors=True)
