"""The chaos suite's shared suite and its report.

One `portico up` serves every test of the package that breaks the suite's
own processes and servers (`suite`): each test works on a tenant of its own
and waits, before it starts, until every process is healthy again. The
package's tests add what they counted to `chaos_report`, printed at the end
of the session.

`make test` runs a fast subset of the kill matrix; `make chaos`
(PORTICO_CHAOS_FULL=1) runs every flow against every process.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .report import FULL, Report
from .stack import Suite

_REPORT = Report()


@pytest.fixture(scope="session")
def chaos_report() -> Report:
    return _REPORT


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _REPORT.entries:
        return
    mode = "full matrix" if FULL else "fast subset (PORTICO_CHAOS_FULL=1 for all)"
    terminalreporter.section(f"chaos: what went in and what came out, {mode}")
    for entry in _REPORT.entries:
        terminalreporter.write_line(f"{entry.run:<40} {entry.seconds:6.1f}s  {entry.line}")


@pytest.fixture(scope="package")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    """`portico up` for the whole package; it must stop cleanly after all the killing.

    PORTICO_CHAOS_HOME names the home of a `portico up` already running (with
    the chaos settings, `stack.CHAOS_ENV`), to iterate on a test without
    waiting for a start each time.
    """
    attached = os.environ.get("PORTICO_CHAOS_HOME", "")
    if attached:
        yield Suite.attach(Path(attached))
        return
    running = Suite.start(tmp_path_factory.mktemp("chaos"))
    try:
        yield running
    finally:
        code = running.stop()
    assert code == 0, running.output()[-6000:]


@pytest.fixture
async def healthy(suite: Suite) -> Suite:
    """The suite, once every process answers (a test after a kill waits for it)."""
    deadline = time.monotonic() + 120
    while not all(h.ok for h in (await asyncio.to_thread(suite.health)).values()):
        assert time.monotonic() < deadline, f"the suite is not healthy: {suite.health()}"
        await asyncio.sleep(0.2)
    return suite
