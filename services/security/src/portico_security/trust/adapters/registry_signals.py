"""Registry signals for the trust score: a JSON file, an HTTP endpoint, or none.

Both adapters read the same JSON object per package (every field optional):

    {"weekly_downloads": 1200, "dependents": 4, "stars": 50, "contributors": 3,
     "has_tests": true, "has_ci": true, "has_lint": true, "has_types": true,
     "has_docs": true, "license": "Apache-2.0", "security_policy": true,
     "repository": "https://github.com/acme/plugins", "deprecated": false,
     "archived": false,
     "releases": [{"version": "1.0.0", "published_at": "2026-01-05T10:00:00Z"}]}

The file holds `{"<package>": {...}, ...}`; the HTTP endpoint answers
`GET <base>/<package>` (scoped names URL-encoded) with one object, 404 for
an unknown package.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from portico_security.trust.domain.scores import PackageSignals, Release
from portico_security.trust.errors import SignalSourceError

MAX_SIGNALS_BYTES = 4 * 1024 * 1024
MAX_TEXT = 1024
_COUNTS = ("weekly_downloads", "dependents", "stars", "contributors")
_FLAGS = (
    "has_tests",
    "has_ci",
    "has_lint",
    "has_types",
    "has_docs",
    "security_policy",
    "deprecated",
    "archived",
)
_TEXTS = ("license", "repository")


def signals_from_json(package: str, data: object) -> PackageSignals:
    """PackageSignals from the JSON form, or SignalSourceError naming the bad field."""
    if not isinstance(data, Mapping):
        raise SignalSourceError(package, "signals must be a JSON object")
    fields: dict[str, Any] = {}
    for name in _COUNTS:
        value = data.get(name, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise SignalSourceError(package, f"{name} must be a non-negative integer")
        fields[name] = value
    for name in _FLAGS:
        value = data.get(name, False)
        if not isinstance(value, bool):
            raise SignalSourceError(package, f"{name} must be true or false")
        fields[name] = value
    for name in _TEXTS:
        value = data.get(name, "")
        if not isinstance(value, str):
            raise SignalSourceError(package, f"{name} must be a string")
        # These strings are stored as evidence with every verdict.
        if len(value) > MAX_TEXT or "\x00" in value:
            raise SignalSourceError(
                package, f"{name} must be text of at most {MAX_TEXT} characters"
            )
        fields[name] = value
    releases = data.get("releases", [])
    if not isinstance(releases, list):
        raise SignalSourceError(package, "releases must be a list")
    fields["releases"] = tuple(_release(package, i, r) for i, r in enumerate(releases))
    return PackageSignals(**fields)


def _release(package: str, index: int, data: object) -> Release:
    if not isinstance(data, Mapping):
        raise SignalSourceError(package, f"releases[{index}] must be an object")
    version, published = data.get("version"), data.get("published_at")
    if not isinstance(version, str) or not isinstance(published, str):
        raise SignalSourceError(package, f"releases[{index}] needs version and published_at")
    try:
        when = datetime.fromisoformat(published)
    except ValueError as exc:
        raise SignalSourceError(package, f"releases[{index}].published_at: {exc}") from exc
    if when.tzinfo is None:
        raise SignalSourceError(package, f"releases[{index}].published_at has no time zone")
    return Release(version=version, published_at=when)


class NoSignals:
    """No registry configured: every package is unknown (its factors score 0, saying so)."""

    async def signals(self, package: str) -> PackageSignals | None:  # noqa: ARG002 - the port's signature
        return None


class FileSignalsSource:
    """Signals from one JSON file, re-read on each call so edits apply without a restart."""

    def __init__(self, path: Path) -> None:
        self._path = path

    async def signals(self, package: str) -> PackageSignals | None:
        data = await asyncio.to_thread(self._load, package)
        entry = data.get(package)
        return None if entry is None else signals_from_json(package, entry)

    def _load(self, package: str) -> Mapping[str, Any]:
        try:
            if self._path.stat().st_size > MAX_SIGNALS_BYTES:
                raise SignalSourceError(package, f"{self._path} is larger than {MAX_SIGNALS_BYTES}")
            data = json.loads(self._path.read_bytes())
        except (OSError, ValueError) as exc:
            raise SignalSourceError(package, f"{self._path}: {exc}") from exc
        if not isinstance(data, Mapping):
            raise SignalSourceError(package, f"{self._path} must hold a JSON object")
        return data


class HttpSignalsSource:
    """Signals from `GET <base_url>/<package>`."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = timeout

    async def signals(self, package: str) -> PackageSignals | None:
        url = f"{self._base}/{quote(package, safe='')}"
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.get(url)
        except httpx.HTTPError as exc:
            raise SignalSourceError(package, f"{type(exc).__name__}: {exc}") from exc
        if response.status_code == httpx.codes.NOT_FOUND:
            return None
        if response.status_code != httpx.codes.OK:
            raise SignalSourceError(package, f"HTTP {response.status_code} from {url}")
        if len(response.content) > MAX_SIGNALS_BYTES:
            raise SignalSourceError(package, f"answer larger than {MAX_SIGNALS_BYTES} bytes")
        try:
            data = response.json()
        except ValueError as exc:
            raise SignalSourceError(package, f"not JSON: {exc}") from exc
        return signals_from_json(package, data)
