"""The versions-service adapter against a local HTTP server serving the real manifests."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from portico_compat.adapters.release_manifests_http import VersionsServiceManifests
from portico_compat.errors import ReleaseManifestUnavailableError, ReleaseNotPublishedError


@pytest.fixture
async def source(versions_server: Any) -> AsyncIterator[VersionsServiceManifests]:
    adapter = VersionsServiceManifests(versions_server.url, timeout=2.0)
    try:
        yield adapter
    finally:
        await adapter.aclose()


async def test_the_published_manifest_is_fetched_and_cached(
    source: VersionsServiceManifests, versions_server: Any
) -> None:
    """GET /v1/releases/<release>/manifest.json once; later reads come from the cache."""
    first = await source.fetch("acme", "1.45.0")
    again = await source.fetch("globex", "1.45.0")

    assert (first.tenant_id, first.backstage_release, len(first.packages)) == (
        "acme",
        "1.45.0",
        190,
    )
    assert first.packages["@techdocs/cli"] == again.packages["@techdocs/cli"]
    assert again.tenant_id == "globex"
    assert versions_server.requests == ["/v1/releases/1.45.0/manifest.json"]


async def test_concurrent_first_reads_share_one_fetch(
    source: VersionsServiceManifests, versions_server: Any
) -> None:
    """Ten checks asking at once for an uncached release cost one request."""
    await asyncio.gather(*(source.fetch("acme", "1.31.0") for _ in range(10)))

    assert versions_server.requests == ["/v1/releases/1.31.0/manifest.json"]


async def test_an_unpublished_release_is_not_found_naming_the_url(
    source: VersionsServiceManifests, versions_server: Any
) -> None:
    """404 is ReleaseNotPublishedError (NOT_FOUND) with the URL asked."""
    with pytest.raises(ReleaseNotPublishedError) as caught:
        await source.fetch("acme", "1.99.0")

    assert f"{versions_server.url}/v1/releases/1.99.0/manifest.json answered 404" in str(
        caught.value
    )
    assert caught.value.code == "NOT_FOUND"


@pytest.mark.parametrize(
    ("status", "body", "problem"),
    [
        (503, b"busy", "answered 503"),
        (200, b"<html>", r"sent a malformed manifest \(not JSON"),
        (200, b'{"releaseVersion": "1.30.0", "packages": []}', "is for release '1.30.0'"),
        (200, b'{"releaseVersion": "1.31.0", "packages": [{"name": "x"}]}', "'name' and 'version'"),
    ],
)
async def test_a_bad_answer_is_unavailable_with_what_was_wrong(
    source: VersionsServiceManifests,
    versions_server: Any,
    status: int,
    body: bytes,
    problem: str,
) -> None:
    """A server error or a document that is not the release's manifest: UNAVAILABLE, said why."""
    versions_server.answers["/v1/releases/1.31.0/manifest.json"] = (status, body)

    with pytest.raises(ReleaseManifestUnavailableError, match=problem) as caught:
        await source.fetch("acme", "1.31.0")

    assert caught.value.code == "UNAVAILABLE"
    # Nothing bad is cached: the next read asks again.
    del versions_server.answers["/v1/releases/1.31.0/manifest.json"]
    assert len((await source.fetch("acme", "1.31.0")).packages) == 178


async def test_an_unreachable_service_is_unavailable_naming_the_url() -> None:
    """Nothing listening: UNAVAILABLE with the URL, within the timeout."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    adapter = VersionsServiceManifests(f"http://127.0.0.1:{port}", timeout=1.0)
    try:
        with pytest.raises(ReleaseManifestUnavailableError) as caught:
            await adapter.fetch("acme", "1.31.0")
    finally:
        await adapter.aclose()

    assert f"cannot reach http://127.0.0.1:{port}/v1/releases/1.31.0/manifest.json" in str(
        caught.value
    )


async def test_the_cache_keeps_the_most_recent_releases(versions_server: Any) -> None:
    """Past its size the least recently read release is dropped and fetched again."""
    adapter = VersionsServiceManifests(versions_server.url, cache_size=1)
    try:
        await adapter.fetch("acme", "1.31.0")
        await adapter.fetch("acme", "1.45.0")
        await adapter.fetch("acme", "1.31.0")
    finally:
        await adapter.aclose()

    assert adapter.fetches == 3
