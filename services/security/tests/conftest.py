"""Fixtures the security test directories share: the migrated database, a superuser, and a
local HTTP server for the adapters that read feeds and registries."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import asyncpg
import pytest

from portico_embedded.testing.databases import migrated_database

SCHEMA = "security"
MIGRATIONS = "portico_security.migrations"

# The test's fresh database with the kernel's and security's migrations, as the service's role.
security_db = migrated_database(SCHEMA, MIGRATIONS, name="security_db")


@pytest.fixture
async def admin(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection to the test's database, which row-level security does not
    restrict: the whole truth."""
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


class Routes(BaseHTTPRequestHandler):
    """Answers GET from a table of path -> (status, body); 404 for anything else."""

    routes: ClassVar[dict[str, tuple[int, bytes]]] = {}

    def do_GET(self) -> None:
        status, body = self.routes.get(self.path, (404, b"not found"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        """Quiet: test output stays readable."""


@pytest.fixture
def server() -> Iterator[tuple[str, dict[str, tuple[int, bytes]]]]:
    """A local HTTP server (base URL, routes) whose routes each test fills in."""
    routes: dict[str, tuple[int, bytes]] = {}
    handler = type("Handler", (Routes,), {"routes": routes})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    # A short poll, so shutdown at teardown returns at once.
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", routes
    httpd.shutdown()
    httpd.server_close()
    thread.join()
