"""The placer `portico up` runs: bridge and silo tenants get their place while the suite runs.

`portico up` knows the administrator's and the migrator's logins (it
provisions and migrates), and no service is given them. So it runs the
privileged placer (`portico_common.placer`) itself, on a thread with its
own event loop, instead of handing those logins to a child process: a tenant
created with isolation bridge or silo is placed within about a second, and
tenancy activates it; a failed placement is retried with backoff, and a
deleted bridge or silo tenant's schemas or database are dropped. With roles
provisioned by the user (no administrator given), no placer runs and such
tenants wait for `python -m portico_common.dbsetup place-pending` run by
whoever holds those logins.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping

from portico_common.placer import run_placer

log = logging.getLogger(__name__)


class PlacerThread:
    """`run_placer` on a daemon thread; `stop` ends it and waits for its pass to finish."""

    def __init__(
        self,
        admin_url: str,
        migrator_url: str,
        services: Mapping[str, str | None],
        *,
        every_seconds: float = 1.0,
    ) -> None:
        self._urls = (admin_url, migrator_url)
        self._services = dict(services)
        self._every = every_seconds
        self._started = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="portico-placer", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._started.wait(timeout=10)

    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> bool:
        """Asks the placer to stop; True when it did within `timeout`."""
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception:
            log.exception("the placer stopped")

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._started.set()
        admin, migrator = self._urls
        await run_placer(admin, migrator, self._services, self._stop, every_seconds=self._every)
