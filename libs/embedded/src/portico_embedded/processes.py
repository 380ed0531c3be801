"""Waiting for and stopping the server processes the launchers start."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from portico_embedded.errors import LauncherError


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1.

    Only for clients that cannot bind port 0 themselves: another process may
    take the port before it is used, so servers we start choose their own.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    ready: Callable[[], bool], what: str, timeout: float, proc: subprocess.Popen[bytes]
) -> None:
    """Polls `ready` until it holds; fails at once if `proc` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LauncherError(f"{what} exited with code {proc.returncode} while starting")
        if ready():
            return
        time.sleep(0.02)
    raise LauncherError(f"{what} did not become ready within {timeout:.0f}s")


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - local URL
            return bool(response.status == 200)
    except OSError:
        return False


def terminate(proc: subprocess.Popen[bytes] | None, timeout: float = 15.0) -> None:
    """SIGTERM, then SIGKILL if the process has not exited within `timeout`."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


# Polls once a second: while the owner and the server both live, nothing;
# once the owner is gone and the server is not, the signal. A shell, not a
# Python interpreter, so each watched server costs a few hundred kilobytes.
_WATCHDOG = (
    'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done;'
    ' kill -0 "$2" 2>/dev/null && kill -s "$3" "$2"'
)


def stop_with_owner(
    server: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGTERM
) -> subprocess.Popen[bytes]:
    """Watches this process and sends `sig` to `server` once it is gone, however it ended.

    A server started in its own session outlives a test run killed with
    SIGKILL (no fixture's teardown runs): this keeps it from holding its port,
    memory and data directory. The watchdog ends by itself once the server
    does; `end_watchdog` ends it at once.
    """
    return subprocess.Popen(  # noqa: S603 - fixed argv
        [
            "/bin/sh",
            "-c",
            _WATCHDOG,
            "portico-watchdog",
            str(os.getpid()),
            str(server.pid),
            sig.name[3:],
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def end_watchdog(watchdog: subprocess.Popen[bytes] | None) -> None:
    if watchdog is not None and watchdog.poll() is None:
        watchdog.kill()
        watchdog.wait()


# The repository's own tools: `make prometheus` and `make pgbouncer` unpack them here.
REPO_TOOLS = Path(__file__).resolve().parents[4] / ".tools" / "bin"


def tool_binary(name: str, env: str, repo_copy: Path) -> str:
    """`env`'s value, else `name` on PATH, else `repo_copy` if it exists; else LauncherError."""
    explicit = os.environ.get(env)
    if explicit:
        return explicit
    found = shutil.which(name)
    if found:
        return found
    if repo_copy.exists():
        return str(repo_copy)
    raise LauncherError(
        f"{name} not found; run `make {name}` (Debian's {name} package) or put {name} on PATH"
    )
