"""Backstage's published release manifests, over HTTP from the versions service.

`GET <base>/v1/releases/<release>/manifest.json` answers the manifest
Backstage publishes per release (`https://versions.backstage.io` is the
service `@backstage/release-manifests` reads; a mirror serving the
`backstage/versions` repository's files has the same paths). A release's
manifest never changes once published, so every manifest read is cached for
the life of the adapter (the most recent `cache_size` releases). Anything but
a usable manifest is an error that says what happened: 404 is
ReleaseNotPublishedError, an unreachable service, another status or a
malformed document ReleaseManifestUnavailableError (UNAVAILABLE).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Mapping
from urllib.parse import quote

import httpx

from portico_compat.domain.releases import (
    MAX_PUBLISHED_BYTES,
    ReleaseManifest,
    parse_published_manifest,
)
from portico_compat.errors import (
    InvalidReleaseManifestError,
    ReleaseManifestUnavailableError,
    ReleaseNotPublishedError,
)

DEFAULT_BASE_URL = "https://versions.backstage.io"


class VersionsServiceManifests:
    """The release-manifest source on Backstage's versions service (or a mirror of it)."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = 5.0,
        cache_size: int = 64,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._client = client or httpx.AsyncClient(timeout=timeout, follow_redirects=True)
        self._cache: OrderedDict[str, Mapping[str, str]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def aclose(self) -> None:
        await self._client.aclose()

    def url_of(self, release: str) -> str:
        return f"{self._base}/v1/releases/{quote(release, safe='')}/manifest.json"

    async def fetch(self, tenant_id: str, release: str) -> ReleaseManifest:
        """The manifest of `release`, recorded under `tenant_id`; see the module docstring."""
        # One fetch per release at a time: concurrent first readers share it.
        async with self._lock:
            packages = self._cache.get(release)
            if packages is None:
                packages = await self._download(release)
                self._cache[release] = packages
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            self._cache.move_to_end(release)
        return ReleaseManifest(tenant_id, release, packages)

    async def _download(self, release: str) -> Mapping[str, str]:
        url = self.url_of(release)
        self.fetches += 1
        try:
            response = await self._client.get(url)
        except httpx.HTTPError as exc:
            detail = str(exc) or type(exc).__name__
            raise ReleaseManifestUnavailableError(release, f"cannot reach {url}: {detail}") from exc
        if response.status_code == httpx.codes.NOT_FOUND:
            raise ReleaseNotPublishedError(release, url)
        if response.status_code != httpx.codes.OK:
            raise ReleaseManifestUnavailableError(release, f"{url} answered {response.status_code}")
        if len(response.content) > MAX_PUBLISHED_BYTES:
            raise ReleaseManifestUnavailableError(
                release, f"{url} sent more than {MAX_PUBLISHED_BYTES} bytes"
            )
        try:
            # The tenant is only a label here: the packages are what is cached.
            manifest = parse_published_manifest("-", release, response.text)
        except InvalidReleaseManifestError as exc:
            raise ReleaseManifestUnavailableError(
                release, f"{url} sent a malformed manifest ({exc.problem})"
            ) from exc
        return manifest.packages
