"""Processes left running by a killed `portico up` are stopped by the next one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from portico_cli import leftovers


def orphan() -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )


def test_recorded_processes_still_running_are_stopped(tmp_path: Path) -> None:
    """A recorded, live process with the same start time is terminated; the file goes."""
    path = tmp_path / "processes.json"
    proc = orphan()
    try:
        leftovers.record(path, [("auth", proc.pid)])
        said: list[str] = []
        leftovers.stop_leftovers(path, said.append, timeout=5)
        assert proc.wait(5) is not None
        assert said == [f"stopping auth (pid {proc.pid}) left running by a previous `portico up`"]
        assert not path.exists()
    finally:
        proc.kill()
        proc.wait()


def test_a_recycled_pid_is_left_alone(tmp_path: Path) -> None:
    """A live pid whose start time differs is someone else's process now."""
    path = tmp_path / "processes.json"
    proc = orphan()
    try:
        leftovers.record(path, [("auth", proc.pid)])
        text = path.read_text()
        start = leftovers.start_time(proc.pid)
        assert start is not None
        path.write_text(text.replace(f'"{start}"', '"1"'))
        leftovers.stop_leftovers(path, lambda _: None, timeout=5)
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_nothing_recorded_is_nothing_to_do(tmp_path: Path) -> None:
    """A missing or unreadable file stops nothing and raises nothing."""
    leftovers.stop_leftovers(tmp_path / "processes.json", lambda _: None)
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    leftovers.stop_leftovers(bad, lambda _: None)
    assert not bad.exists()
