"""Child processes: log files and tails, and the SIGTERM-then-SIGKILL stop."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from portico_cli.procs import Child, describe_exit, log_tail, stop_all

IGNORES_SIGTERM = (
    "import signal, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)


def child(tmp_path: Path, code: str, name: str = "svc") -> Child:
    return Child(name, [sys.executable, "-c", code], {}, tmp_path / "logs" / f"{name}.log")


def wait_for_line(path: Path, text: str) -> None:
    deadline = time.monotonic() + 10
    while text not in path.read_text() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_a_childs_output_goes_to_its_log_and_the_tail_shows_only_this_run(tmp_path: Path) -> None:
    """Earlier runs' lines stay in the file but not in the tail."""
    log = tmp_path / "logs" / "svc.log"
    log.parent.mkdir()
    log.write_text("old run line\n")
    proc = child(tmp_path, "import sys; print('hello', flush=True); print('oops', file=sys.stderr)")
    proc.start()
    assert proc.proc is not None
    assert proc.proc.wait(10) == 0
    assert "old run line" in log.read_text()
    assert proc.log_tail() == "hello\noops"


def test_the_tail_masks_secrets_and_keeps_the_last_lines(tmp_path: Path) -> None:
    """Secrets never reach the terminal through a log tail."""
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {i} key=hunter2\n" for i in range(50)))
    tail = log_tail(log, lines=3, redact=["hunter2"])
    assert tail == "line 47 key=***\nline 48 key=***\nline 49 key=***"
    assert log_tail(tmp_path / "missing.log") == "(no log file)"


def test_stop_all_kills_what_ignores_sigterm_after_the_timeout(tmp_path: Path) -> None:
    """A process that ignores SIGTERM is killed and named; a polite one is not."""
    stubborn = child(tmp_path, IGNORES_SIGTERM, "stubborn")
    polite = child(tmp_path, "import time\nprint('ready', flush=True)\ntime.sleep(60)", "polite")
    stubborn.start()
    polite.start()
    wait_for_line(stubborn.log_path, "ready")
    wait_for_line(polite.log_path, "ready")
    assert stubborn.proc is not None
    assert polite.proc is not None
    started = time.monotonic()
    killed = stop_all([("stubborn", stubborn.proc), ("polite", polite.proc)], timeout=1.0)
    assert killed == ["stubborn"]
    assert 1.0 <= time.monotonic() - started < 10
    assert not stubborn.running()
    assert not polite.running()


def test_stop_all_with_force_does_not_wait(tmp_path: Path) -> None:
    """A second Ctrl-C (force) cuts the grace period short."""
    stubborn = child(tmp_path, IGNORES_SIGTERM)
    stubborn.start()
    wait_for_line(stubborn.log_path, "ready")
    assert stubborn.proc is not None
    started = time.monotonic()
    assert stop_all([("svc", stubborn.proc)], timeout=30, force=lambda: True) == ["svc"]
    assert time.monotonic() - started < 10


def test_exit_descriptions() -> None:
    """Exit codes and signals read naturally."""
    assert describe_exit(3) == "exited with code 3"
    assert describe_exit(-9) == "was killed by SIGKILL"


def test_a_child_runs_in_its_own_session(tmp_path: Path) -> None:
    """Ctrl-C in the terminal reaches `portico up` only, which stops children in order."""
    proc = child(tmp_path, "import os; print(os.getsid(0))")
    proc.start()
    assert proc.proc is not None
    proc.proc.wait(10)
    assert int(proc.log_tail()) == proc.pid
    assert subprocess.call(["true"]) == 0  # noqa: S607 - sanity: the test process is unaffected
