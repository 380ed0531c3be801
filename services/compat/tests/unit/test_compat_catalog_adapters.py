"""Package catalogs: the local JSON file and an npm-registry-shaped HTTP server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote

import pytest

from portico_compat.adapters.catalog_file import load_catalog_file
from portico_compat.adapters.catalog_npm import NpmRegistryCatalog
from portico_compat.domain.solver import Budget, solve
from portico_compat.domain.solver.errors import CatalogBudgetExceededError, CatalogError

CORE = "@backstage/core-plugin-api"
PACKUMENTS: dict[str, object] = {
    CORE: {"name": CORE, "versions": {"1.9.0": {}, "1.10.0": {}, "v2": {}}},
    "@acme/plugin-a": {
        "name": "@acme/plugin-a",
        "versions": {
            "1.0.0": {"peerDependencies": {CORE: "^1.9.0"}, "dependencies": {"left-pad": "^1"}},
            "2.0.0": {"peerDependencies": {CORE: "^2.0.0"}},
        },
    },
}


class Registry(BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []
    failures_left: ClassVar[int] = 0

    def do_GET(self) -> None:
        name = unquote(self.path.lstrip("/"))
        type(self).requests.append(name)
        if type(self).failures_left > 0:
            type(self).failures_left -= 1
            self.send_response(503)
            self.end_headers()
            return
        if name not in PACKUMENTS:
            self.send_response(404)
            self.end_headers()
            return
        body = json.dumps(PACKUMENTS[name]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


@pytest.fixture
def registry() -> Iterator[str]:
    Registry.requests = []
    Registry.failures_left = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_file_catalog_reads_packuments_and_drops_unpublishable_versions(tmp_path: Path) -> None:
    """The file adapter keeps valid versions with their ranges and says which it skipped."""
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"packages": PACKUMENTS}))
    catalog = load_catalog_file(path)
    assert sorted(v.version for v in catalog.versions(CORE)) == ["1.10.0", "1.9.0"]
    (a1,) = [v for v in catalog.versions("@acme/plugin-a") if v.version == "1.0.0"]
    assert a1.peer_dependencies == {CORE: "^1.9.0"}
    assert len(catalog.skipped) == 1
    assert "v2" in catalog.skipped[0]
    assert catalog.versions("unknown") == ()


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"x": {"versions": []}}'])
def test_file_catalog_rejects_malformed_files(tmp_path: Path, content: str) -> None:
    """A catalog file that is not an object of packuments is a CatalogError."""
    path = tmp_path / "catalog.json"
    path.write_text(content)
    with pytest.raises(CatalogError):
        load_catalog_file(path)


def test_npm_catalog_solves_against_a_registry(registry: str) -> None:
    """Packuments come over HTTP (scoped names escaped), each fetched once; 404 is unknown."""
    catalog = NpmRegistryCatalog(registry)
    try:
        outcome = solve(
            catalog,
            installed={CORE: "1.10.0"},
            requested={"@acme/plugin-a": "*"},
            allow_upgrades=False,
            budget=Budget(),
            now=time.monotonic,
        )
        assert outcome.satisfiable
        assert {(p.name, p.version) for p in outcome.packages} == {
            ("@acme/plugin-a", "1.0.0"),
            (CORE, "1.10.0"),
        }
        assert sorted(Registry.requests) == sorted([CORE, "@acme/plugin-a", "left-pad"])
    finally:
        catalog.close()


def test_npm_catalog_retries_transient_errors(registry: str) -> None:
    """A 503 is retried; the packument still arrives."""
    Registry.failures_left = 1
    catalog = NpmRegistryCatalog(registry)
    try:
        assert [v.version for v in catalog.versions("@acme/plugin-a")] == ["1.0.0", "2.0.0"]
        assert catalog.fetches == 2
    finally:
        catalog.close()


def test_npm_catalog_stops_at_its_package_budget(registry: str) -> None:
    """Past `max_packages` distinct packuments the catalog refuses instead of crawling on."""
    catalog = NpmRegistryCatalog(registry, max_packages=1)
    try:
        catalog.versions(CORE)
        with pytest.raises(CatalogBudgetExceededError):
            catalog.versions("@acme/plugin-a")
    finally:
        catalog.close()


def test_npm_catalog_reports_an_unreachable_registry() -> None:
    """A registry nobody listens on is a CatalogError naming the package."""
    catalog = NpmRegistryCatalog("http://127.0.0.1:9", timeout=0.5)
    try:
        with pytest.raises(CatalogError, match="plugin-a"):
            catalog.versions("@acme/plugin-a")
    finally:
        catalog.close()
