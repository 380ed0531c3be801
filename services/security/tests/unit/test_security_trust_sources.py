"""Advisory sources and registry-signal sources against real files and a local HTTP server
(the `server` fixture, in the tests' conftest)."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from portico_security.trust.adapters.advisory_sources import (
    DirectoryAdvisorySource,
    HttpAdvisorySource,
)
from portico_security.trust.adapters.registry_signals import (
    FileSignalsSource,
    HttpSignalsSource,
    NoSignals,
    signals_from_json,
)
from portico_security.trust.domain.scores import Release
from portico_security.trust.errors import AdvisorySourceError, SignalSourceError

ADVISORY = {"id": "GHSA-x", "modified": "2026-01-01T00:00:00Z", "affected": []}
SIGNALS = {
    "weekly_downloads": 1200,
    "has_tests": True,
    "license": "MIT",
    "releases": [{"version": "1.0.0", "published_at": "2026-01-05T10:00:00Z"}],
}


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


async def test_directory_reads_json_files_recursively_in_order(tmp_path: Path) -> None:
    """Every *.json below the directory is read, sorted by path; other files are skipped."""
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "GHSA-2.json").write_text("{}")
    (tmp_path / "a.json").write_text("[]")
    (tmp_path / "README.md").write_text("hi")
    documents = await DirectoryAdvisorySource(tmp_path).fetch()
    assert [d.origin for d in documents] == ["a.json", "b/GHSA-2.json"]


async def test_missing_directory_is_a_source_error(tmp_path: Path) -> None:
    """A directory that does not exist is an AdvisorySourceError, not an empty import."""
    with pytest.raises(AdvisorySourceError, match="is not a directory"):
        await DirectoryAdvisorySource(tmp_path / "nope").fetch()


async def test_feed_json_array(server: tuple[str, dict[str, tuple[int, bytes]]]) -> None:
    """A JSON array feed yields one document per element, each named by its index."""
    base, routes = server
    routes["/feed.json"] = (200, json.dumps([ADVISORY, {**ADVISORY, "id": "GHSA-y"}]).encode())
    documents = await HttpAdvisorySource(f"{base}/feed.json").fetch()
    assert [json.loads(d.content)["id"] for d in documents] == ["GHSA-x", "GHSA-y"]
    assert documents[1].origin == f"{base}/feed.json#1"


async def test_feed_zip_like_osv_dev(server: tuple[str, dict[str, tuple[int, bytes]]]) -> None:
    """A zip of JSON files (osv.dev's all.zip form) yields each member, sorted by name."""
    base, routes = server
    routes["/npm/all.zip"] = (
        200,
        zipped({"GHSA-2.json": b"{}", "GHSA-1.json": b"{}", "notes.txt": b"x"}),
    )
    documents = await HttpAdvisorySource(f"{base}/npm/all.zip").fetch()
    assert [d.origin.rsplit("!", 1)[1] for d in documents] == ["GHSA-1.json", "GHSA-2.json"]


async def test_feed_http_error_is_a_source_error(
    server: tuple[str, dict[str, tuple[int, bytes]]],
) -> None:
    """A feed answering 404 is an AdvisorySourceError naming the status."""
    base, _ = server
    with pytest.raises(AdvisorySourceError, match="HTTP 404"):
        await HttpAdvisorySource(f"{base}/missing").fetch()


async def test_feed_garbage_is_a_source_error(
    server: tuple[str, dict[str, tuple[int, bytes]]],
) -> None:
    """A body that is neither zip nor JSON is refused with a precise error."""
    base, routes = server
    routes["/feed"] = (200, b"<html>")
    with pytest.raises(AdvisorySourceError, match="neither a zip nor JSON"):
        await HttpAdvisorySource(f"{base}/feed").fetch()


async def test_unreachable_feed_is_a_source_error() -> None:
    """A feed nobody listens on is an AdvisorySourceError, not a crash."""
    with pytest.raises(AdvisorySourceError):
        await HttpAdvisorySource("http://127.0.0.1:9/feed", timeout=2).fetch()


def test_signals_from_json_reads_every_field() -> None:
    """Counts, flags, texts and releases are read; absent fields take their defaults."""
    signals = signals_from_json("x", SIGNALS)
    assert (signals.weekly_downloads, signals.has_tests, signals.license) == (1200, True, "MIT")
    assert signals.releases == (Release("1.0.0", datetime(2026, 1, 5, 10, 0, tzinfo=UTC)),)
    assert signals.stars == 0


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ([], "JSON object"),
        ({"stars": -1}, "stars must be a non-negative integer"),
        ({"stars": True}, "stars must be a non-negative integer"),
        ({"has_tests": "yes"}, "has_tests must be true or false"),
        ({"license": 3}, "license must be a string"),
        ({"license": "MIT\x00"}, "license must be text of at most 1024"),
        ({"repository": "x" * 1025}, "repository must be text of at most 1024"),
        ({"releases": [{"version": "1.0.0"}]}, "needs version and published_at"),
        (
            {"releases": [{"version": "1", "published_at": "2026-01-05T10:00:00"}]},
            "no time zone",
        ),
    ],
)
def test_bad_signals_are_refused(data: object, problem: str) -> None:
    """Malformed signals raise SignalSourceError naming the field."""
    with pytest.raises(SignalSourceError, match=problem):
        signals_from_json("x", data)


async def test_file_signals(tmp_path: Path) -> None:
    """The file adapter finds a package's entry and returns None for an unknown one."""
    path = tmp_path / "signals.json"
    path.write_text(json.dumps({"@acme/plugin": SIGNALS}))
    source = FileSignalsSource(path)
    found = await source.signals("@acme/plugin")
    assert found is not None
    assert found.weekly_downloads == 1200
    assert await source.signals("other") is None


async def test_http_signals(server: tuple[str, dict[str, tuple[int, bytes]]]) -> None:
    """The HTTP adapter URL-encodes scoped names; 404 means unknown; 500 is an error."""
    base, routes = server
    routes["/signals/%40acme%2Fplugin"] = (200, json.dumps(SIGNALS).encode())
    routes["/signals/broken"] = (500, b"oops")
    source = HttpSignalsSource(f"{base}/signals/")
    found = await source.signals("@acme/plugin")
    assert found is not None
    assert found.license == "MIT"
    assert await source.signals("unknown") is None
    with pytest.raises(SignalSourceError, match="HTTP 500"):
        await source.signals("broken")


async def test_no_signals_knows_nothing() -> None:
    """Without a configured registry every package is unknown."""
    assert await NoSignals().signals("@acme/plugin") is None
