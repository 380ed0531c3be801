"""One contract for the adapters of trust's outside-world ports: registry signals from a file or
over HTTP, and OSV documents from a directory or an HTTP feed (JSON or zip).

The trust use cases accept any of them; every behaviour below holds for each.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from portico_security.trust.adapters.advisory_sources import (
    DirectoryAdvisorySource,
    HttpAdvisorySource,
)
from portico_security.trust.adapters.registry_signals import (
    FileSignalsSource,
    HttpSignalsSource,
    signals_from_json,
)
from portico_security.trust.app.ports import AdvisorySource, PackageSignalsSource
from portico_security.trust.domain.osv import parse_document
from portico_security.trust.errors import AdvisorySourceError, SignalSourceError

Server = tuple[str, dict[str, tuple[int, bytes]]]
PACKAGE = "@acme/plugin"
SIGNALS = {
    "weekly_downloads": 1200,
    "has_tests": True,
    "license": "MIT",
    "releases": [{"version": "1.0.0", "published_at": "2026-01-05T10:00:00Z"}],
}
DOCUMENTS = {
    f"GHSA-{n}.json": {
        "id": f"GHSA-{n}",
        "modified": "2026-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "npm", "name": PACKAGE},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "2.0.0"}]}],
            }
        ],
    }
    for n in (1, 2)
}

# Each adapter, given what it should know: {package: signals JSON} (None: the source is broken).
SignalsFactory = Callable[[dict[str, object] | None, Path, Server], PackageSignalsSource]


def file_signals(known: dict[str, object] | None, tmp: Path, _: Server) -> PackageSignalsSource:
    path = tmp / "signals.json"
    path.write_text("not json" if known is None else json.dumps(known))
    return FileSignalsSource(path)


def http_signals(known: dict[str, object] | None, _: Path, server: Server) -> PackageSignalsSource:
    base, routes = server
    for package, body in (known or {PACKAGE: None}).items():
        route = "/signals/" + package.replace("@", "%40").replace("/", "%2F")
        routes[route] = (500, b"oops") if known is None else (200, json.dumps(body).encode())
    return HttpSignalsSource(f"{base}/signals")


@pytest.fixture(params=[file_signals, http_signals], ids=["file", "http"])
def signals_source(request: pytest.FixtureRequest) -> SignalsFactory:
    factory: SignalsFactory = request.param
    return factory


async def test_a_known_package_has_its_signals(
    signals_source: SignalsFactory, tmp_path: Path, server: Server
) -> None:
    """A package the source knows comes back with every field its JSON gave."""
    source = signals_source({PACKAGE: SIGNALS}, tmp_path, server)
    assert await source.signals(PACKAGE) == signals_from_json(PACKAGE, SIGNALS)


async def test_an_unknown_package_has_none(
    signals_source: SignalsFactory, tmp_path: Path, server: Server
) -> None:
    """A package the source does not know is None, so its factors score 0, saying so."""
    source = signals_source({PACKAGE: SIGNALS}, tmp_path, server)
    assert await source.signals("left-pad") is None


async def test_malformed_signals_are_a_signal_source_error(
    signals_source: SignalsFactory, tmp_path: Path, server: Server
) -> None:
    """A field of the wrong type is refused naming it, whichever source carried it."""
    source = signals_source({PACKAGE: {"stars": -1}}, tmp_path, server)
    with pytest.raises(SignalSourceError, match="stars must be a non-negative integer"):
        await source.signals(PACKAGE)


async def test_a_broken_source_is_a_signal_source_error(
    signals_source: SignalsFactory, tmp_path: Path, server: Server
) -> None:
    """A source that cannot answer raises SignalSourceError, never a bare crash."""
    source = signals_source(None, tmp_path, server)
    with pytest.raises(SignalSourceError):
        await source.signals(PACKAGE)


# Each advisory adapter over the same OSV documents (None: the source is broken).
SourceFactory = Callable[[dict[str, object] | None, Path, Server], AdvisorySource]


def directory(docs: dict[str, object] | None, tmp: Path, _: Server) -> AdvisorySource:
    root = tmp / "osv"
    if docs is not None:
        root.mkdir()
        for name, doc in docs.items():
            (root / name).write_text(json.dumps(doc))
    return DirectoryAdvisorySource(root)


def json_feed(docs: dict[str, object] | None, _: Path, server: Server) -> AdvisorySource:
    base, routes = server
    if docs is not None:
        routes["/feed.json"] = (200, json.dumps(list(docs.values())).encode())
    return HttpAdvisorySource(f"{base}/feed.json")


def zip_feed(docs: dict[str, object] | None, _: Path, server: Server) -> AdvisorySource:
    base, routes = server
    if docs is not None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, doc in docs.items():
                archive.writestr(name, json.dumps(doc))
        routes["/all.zip"] = (200, buffer.getvalue())
    return HttpAdvisorySource(f"{base}/all.zip")


@pytest.fixture(params=[directory, json_feed, zip_feed], ids=["directory", "json", "zip"])
def advisory_source(request: pytest.FixtureRequest) -> SourceFactory:
    factory: SourceFactory = request.param
    return factory


async def test_every_document_is_fetched_once_with_its_origin(
    advisory_source: SourceFactory, tmp_path: Path, server: Server
) -> None:
    """The same OSV documents come back from every source, each once, parseable, each with an
    origin that names the source."""
    source = advisory_source(DOCUMENTS, tmp_path, server)
    documents = await source.fetch()
    parsed = sorted(parse_document(d.content, d.origin).id for d in documents)
    assert parsed == ["GHSA-1", "GHSA-2"]
    assert len({d.origin for d in documents}) == 2


async def test_an_unreadable_source_is_an_advisory_source_error(
    advisory_source: SourceFactory, tmp_path: Path, server: Server
) -> None:
    """A directory that is not there or a feed that is not served is AdvisorySourceError."""
    source = advisory_source(None, tmp_path, server)
    with pytest.raises(AdvisorySourceError):
        await source.fetch()
