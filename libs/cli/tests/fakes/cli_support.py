"""Process helpers for the CLI's tests (imported by them via conftest's sys.path)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rpartition(")")[2].split()
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        children = {child for child, parent in parents.items() if parent in frontier}
        frontier = children - found
        found |= children
    return found


def running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def wait_for_file(path: Path, proc_alive: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return True
        if not proc_alive():
            return False
        time.sleep(0.1)
    return False


SERVICES = ("auth", "tenancy", "security", "compat", "rollout", "slo")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment minus anything that would point `portico` elsewhere."""
    drop = {
        "PORTICO_NATS_URL",
        "PORTICO_DATABASE_URL",
        "PORTICO_ADMIN_DATABASE_URL",
        "PORTICO_MIGRATOR_DATABASE_URL",
        *(f"PORTICO_{name.upper()}_DATABASE_URL" for name in SERVICES),
        "PORTICO_HOME",
        "PORTICO_GATEWAY_PORT",
        "PORTICO_AUTH_ADMIN_CLIENT_SECRET",
        "PORTICO_AUTH_KEY_ENCRYPTION_KEY",
    }
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(extra)
    return env
