"""A package catalog read from an npm-registry-shaped HTTP API.

`GET <registry>/<name>` returns the packument (scoped names are sent with the
`/` escaped, as npm does: `@scope%2fname`); 404 means the package is unknown.
`GET <registry>/<name>/<version>` returns one version's package.json in full
(with fields the abbreviated packument leaves out, such as `backstage`).
The solver runs in a worker thread, so this adapter is synchronous (httpx),
caches every packument for the life of the catalog, retries transient errors
with tenacity, and refuses to fetch more than `max_packages` packuments: a
request that fans out over the whole registry gets a clear error, not a hang.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from urllib.parse import quote

import httpx
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from portico_compat.adapters.catalog_file import parse_packument
from portico_compat.domain.solver.errors import CatalogBudgetExceededError, CatalogError
from portico_compat.domain.solver.model import PackageVersion

ACCEPT = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8"


class _Transient(Exception):  # noqa: N818 - internal retry signal
    pass


class NpmRegistryCatalog:
    def __init__(
        self,
        registry_url: str,
        *,
        max_packages: int = 2_000,
        timeout: float = 5.0,
        client: httpx.Client | None = None,
    ) -> None:
        self._base = registry_url.rstrip("/")
        self._max = max_packages
        self._client = client or httpx.Client(timeout=timeout, headers={"Accept": ACCEPT})
        self._cache: dict[str, list[PackageVersion]] = {}
        self._lock = threading.Lock()
        self.skipped: list[str] = []
        self.fetches = 0

    def close(self) -> None:
        self._client.close()

    def versions(self, name: str) -> Sequence[PackageVersion]:
        with self._lock:
            cached = self._cache.get(name)
            if cached is not None:
                return cached
            if len(self._cache) >= self._max:
                raise CatalogBudgetExceededError(
                    f"the registry catalog fetched its limit of {self._max} packuments"
                    f" before reaching {name!r}"
                )
            found = self._fetch(name)
            self._cache[name] = found
            return found

    def package_json(self, name: str, version: str) -> Mapping[str, object] | None:
        """One version's package.json (not cached: a check asks for it once)."""
        path = f"{quote(name, safe='@')}/{quote(version, safe='')}"
        try:
            response = self._get(path)
        except (_Transient, httpx.HTTPError) as error:
            raise CatalogError(f"npm registry unavailable for {name}@{version}: {error}") from error
        if response.status_code == httpx.codes.NOT_FOUND:
            return None
        if response.status_code != httpx.codes.OK:
            raise CatalogError(f"npm registry answered {response.status_code} for {name}@{version}")
        try:
            document = response.json()
        except ValueError as error:
            raise CatalogError(f"npm registry sent invalid JSON for {name}@{version}") from error
        if not isinstance(document, dict):
            raise CatalogError(f"npm registry sent no object for {name}@{version}")
        return document

    def _fetch(self, name: str) -> list[PackageVersion]:
        try:
            response = self._get(quote(name, safe="@"))
        except (_Transient, httpx.HTTPError) as error:
            raise CatalogError(f"npm registry unavailable for {name!r}: {error}") from error
        if response.status_code == httpx.codes.NOT_FOUND:
            return []
        if response.status_code != httpx.codes.OK:
            raise CatalogError(f"npm registry answered {response.status_code} for {name!r}")
        try:
            document = response.json()
        except ValueError as error:
            raise CatalogError(f"npm registry sent invalid JSON for {name!r}") from error
        return parse_packument(name, document, self.skipped)

    @retry(
        retry=retry_if_exception_type((_Transient, httpx.TransportError)),
        wait=wait_random_exponential(multiplier=0.05, max=1),
        stop=stop_after_attempt(3),
        reraise=True,
    )
    def _get(self, path: str) -> httpx.Response:
        self.fetches += 1
        response = self._client.get(f"{self._base}/{path}")
        if response.status_code >= httpx.codes.INTERNAL_SERVER_ERROR:
            raise _Transient(f"HTTP {response.status_code}")
        return response
