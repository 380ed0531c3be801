"""Child processes of `portico up`: start with a log file, watch, stop in order."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

STOP_TIMEOUT_SECONDS = 15.0
TAIL_LINES = 25


@dataclass
class Child:
    """One process of the suite, its output appended to `log_path`."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    # Where this run's output starts in the log, so a tail never shows an old run.
    log_offset: int = 0

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            log.write(f"--- portico up: starting {self.name} at {stamp} ---\n".encode())
            log.flush()
            self.log_offset = log.tell()
            # A session of its own: Ctrl-C in the terminal reaches `portico up`
            # only, which then stops the children in order.
            self.proc = subprocess.Popen(  # noqa: S603 - argv is ours, no shell
                list(self.argv),
                env=dict(self.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc is not None else 0

    def returncode(self) -> int | None:
        """None while running (or never started), else the exit code."""
        return None if self.proc is None else self.proc.poll()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = TAIL_LINES, redact: Iterable[str] = ()) -> str:
        return log_tail(self.log_path, lines, offset=self.log_offset, redact=redact)


def log_tail(
    path: Path, lines: int = TAIL_LINES, offset: int = 0, redact: Iterable[str] = ()
) -> str:
    """The last `lines` lines of a log from `offset` on, secrets masked."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            # Enough bytes for the lines asked for without reading a huge log whole.
            start = max(offset, size - 64 * 1024)
            handle.seek(start)
            text = handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return "(no log file)"
    for secret in redact:
        if secret:
            text = text.replace(secret, "***")
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else "(log is empty)"


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def stop_all(
    procs: Sequence[tuple[str, subprocess.Popen[bytes]]],
    *,
    timeout: float = STOP_TIMEOUT_SECONDS,
    force: Callable[[], bool] = lambda: False,
) -> list[str]:
    """SIGTERM to every process, wait up to `timeout`, then SIGKILL the rest.

    Returns the names of the processes that had to be killed. `force` cuts the
    wait short (a second Ctrl-C).
    """
    live = [(name, proc) for name, proc in procs if proc.poll() is None]
    for _, proc in live:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not force():
        if all(proc.poll() is not None for _, proc in live):
            return []
        time.sleep(0.05)
    killed = []
    for name, proc in live:
        if proc.poll() is None:
            killed.append(name)
            _kill_group(proc)
    for _, proc in live:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
    return killed


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    # Each child leads its own session; the group takes anything it spawned too.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
