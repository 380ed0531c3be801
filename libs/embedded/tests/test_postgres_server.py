"""The embedded PostgreSQL starts from any directory and never loses a start to a port race."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from portico_embedded import postgres
from portico_embedded.postgres import PostgresServer, reachable

pytestmark = pytest.mark.integration


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
    server = PostgresServer(private_dir / "pg" / "data", database="postgres", fsync=False)
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
    server = PostgresServer(data, database="postgres", fsync=False)
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
        server = PostgresServer(base / "data", database="postgres", fsync=False)
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
        server = PostgresServer(tmp_path / "data", port=squatter.getsockname()[1], fsync=False)
        try:
            with pytest.raises(postgres.LauncherError, match="exited with code"):
                server.start(timeout=30)
            assert "Address already in use" in server.log_path.read_text()
        finally:
            server.stop()
            server.remove()
