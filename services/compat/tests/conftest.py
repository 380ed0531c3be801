"""Real Backstage data for every compat test: published manifests and package.json files.

The files are under `fixtures/backstage` (their sources are in its README).
"""

from __future__ import annotations

import io
import json
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "backstage"


@dataclass(frozen=True)
class BackstageData:
    """Reads the frozen real data by release or by `name@version`."""

    root: Path

    def manifest(self, release: str) -> str:
        """The manifest Backstage publishes for `release`, as its JSON text."""
        return (self.root / "manifests" / f"{release}.json").read_text(encoding="utf-8")

    def package_json(self, spec: str) -> str:
        """The published package.json of `name@version`, as its JSON text."""
        file = spec.removeprefix("@").replace("/", "__", 1)
        return (self.root / "packages" / f"{file}.package.json").read_text(encoding="utf-8")

    def package(self, spec: str) -> dict[str, object]:
        document: dict[str, object] = json.loads(self.package_json(spec))
        return document

    def tarball(self, spec: str) -> bytes:
        """An `npm pack` tarball (package/...) around the real package.json."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for name, data in (
                ("package/README.md", b"# readme\n"),
                ("package/package.json", self.package_json(spec).encode()),
            ):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
        return buffer.getvalue()

    @property
    def catalog_file(self) -> Path:
        """A catalog file (PORTICO_CATALOG_FILE) with real plugin-catalog versions."""
        return self.root / "catalog" / "packuments.json"

    def specs(self) -> list[str]:
        """Every `name@version` with a package.json here."""
        found = []
        for path in sorted((self.root / "packages").glob("*.package.json")):
            document = json.loads(path.read_text(encoding="utf-8"))
            found.append(f"{document['name']}@{document['version']}")
        return found


@pytest.fixture(scope="session")
def backstage() -> BackstageData:
    """The real Backstage manifests and package.json files shipped with the tests."""
    return BackstageData(FIXTURES)


@dataclass
class VersionsServer:
    """A local stand-in for versions.backstage.io serving the real manifests.

    `answers` overrides a path with `(status, body)`; `requests` lists the paths asked.
    """

    data: BackstageData
    url: str = ""
    answers: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def answer(self, path: str) -> tuple[int, bytes]:
        self.requests.append(path)
        if path in self.answers:
            return self.answers[path]
        parts = path.strip("/").split("/")
        if len(parts) == 4 and parts[:2] == ["v1", "releases"] and parts[3] == "manifest.json":
            file = self.data.root / "manifests" / f"{parts[2]}.json"
            if file.is_file():
                return 200, file.read_bytes()
        return 404, b"Not Found"


@pytest.fixture
def versions_server(backstage: BackstageData) -> Iterator[VersionsServer]:
    """The real manifests over HTTP on 127.0.0.1 (a port the server chose)."""
    server = VersionsServer(backstage)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = server.answer(self.path)
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
            """Quiet: the tests look at `requests` instead."""

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
