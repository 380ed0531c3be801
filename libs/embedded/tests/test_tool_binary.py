"""Where the launchers of Prometheus and PgBouncer find their binary, in order."""

from __future__ import annotations

from pathlib import Path

import pytest

from portico_embedded.errors import LauncherError
from portico_embedded.processes import tool_binary


def _executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_the_variable_wins_then_path_then_the_repository_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_path = _executable(tmp_path / "bin" / "pgbouncer")
    repo_copy = _executable(tmp_path / "tools" / "pgbouncer")
    monkeypatch.setenv("PATH", str(on_path.parent))
    monkeypatch.setenv("PORTICO_PGBOUNCER_BIN", "/opt/pgbouncer")
    assert tool_binary("pgbouncer", "PORTICO_PGBOUNCER_BIN", repo_copy) == "/opt/pgbouncer"
    monkeypatch.delenv("PORTICO_PGBOUNCER_BIN")
    assert tool_binary("pgbouncer", "PORTICO_PGBOUNCER_BIN", repo_copy) == str(on_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert tool_binary("pgbouncer", "PORTICO_PGBOUNCER_BIN", repo_copy) == str(repo_copy)


def test_none_found_says_what_to_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORTICO_PGBOUNCER_BIN", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(LauncherError, match=r"pgbouncer not found; run `make pgbouncer`"):
        tool_binary("pgbouncer", "PORTICO_PGBOUNCER_BIN", tmp_path / "no-tools" / "pgbouncer")
