"""Processes a killed `portico up` could not stop, found and stopped by the next run.

`portico up` records every process it starts in `<home>/processes.json`
(with the kernel's start time, so a recycled pid is never mistaken for one of
ours) and removes the file after a clean stop. Children run in their own
sessions, so a SIGKILL of `portico up` leaves them running; the next run, once
it holds the home's lock, stops them before starting anew.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from portico_cli.endpoints import write_json


@dataclass(frozen=True)
class Recorded:
    name: str
    pid: int
    start_time: str | None


def start_time(pid: int) -> str | None:
    """The process' start time in clock ticks since boot (Linux), else None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22; the command name (field 2) may contain spaces and parentheses.
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None


def alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    state = _state(pid)
    return state != "Z"


def record(path: Path, processes: list[tuple[str, int]]) -> None:
    write_json(
        path,
        {
            "up_pid": os.getpid(),
            "processes": [
                {"name": name, "pid": pid, "start_time": start_time(pid)} for name, pid in processes
            ],
        },
    )


def read(path: Path) -> list[Recorded]:
    try:
        data = json.loads(path.read_text())
        return [
            Recorded(str(p["name"]), int(p["pid"]), p.get("start_time")) for p in data["processes"]
        ]
    except FileNotFoundError:
        return []
    except (ValueError, KeyError, TypeError):
        return []  # unreadable: nothing we can safely act on


def stop_leftovers(path: Path, say: Callable[[str], None], timeout: float = 15.0) -> None:
    """Stops the processes a previous run recorded and left running (newest first)."""
    for entry in reversed(read(path)):
        if not alive(entry.pid):
            continue
        current = start_time(entry.pid)
        if entry.start_time is None or current != entry.start_time:
            if current is None and entry.start_time is None:
                say(f"warning: {entry.name} (pid {entry.pid}) of a previous run may still run")
            continue
        say(f"stopping {entry.name} (pid {entry.pid}) left running by a previous `portico up`")
        _terminate(entry.pid, timeout)
    path.unlink(missing_ok=True)


def _terminate(pid: int, timeout: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    return fields[0] if fields else None
