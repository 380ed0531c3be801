"""Where OSV documents come from: a directory, or an HTTP feed.

The feed is either a JSON document (one OSV object or an array of them) or a
zip of `*.json` files, the form osv.dev publishes per ecosystem
(https://osv-vulnerabilities.storage.googleapis.com/npm/all.zip). Both
sources bound what they read, so a hostile feed cannot exhaust memory.
"""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from pathlib import Path

import httpx

from portico_security.trust.app.ports import RawDocument
from portico_security.trust.errors import AdvisorySourceError

MIB = 1024 * 1024
MAX_FEED_BYTES = 512 * MIB
MAX_FILE_BYTES = 1 * MIB
MAX_FILES = 200_000


class DirectoryAdvisorySource:
    """Every `*.json` file under a directory (recursively), in name order."""

    def __init__(self, root: Path) -> None:
        self._root = root

    @property
    def name(self) -> str:
        return str(self._root)

    async def fetch(self) -> list[RawDocument]:
        return await asyncio.to_thread(self._read)

    def _read(self) -> list[RawDocument]:
        if not self._root.is_dir():
            raise AdvisorySourceError(self.name, "is not a directory")
        documents: list[RawDocument] = []
        for path in sorted(self._root.rglob("*.json")):
            if len(documents) >= MAX_FILES:
                raise AdvisorySourceError(self.name, f"more than {MAX_FILES} files")
            if path.stat().st_size > MAX_FILE_BYTES:
                raise AdvisorySourceError(str(path), f"larger than {MAX_FILE_BYTES} bytes")
            documents.append(RawDocument(str(path.relative_to(self._root)), path.read_bytes()))
        return documents


class HttpAdvisorySource:
    """An OSV feed over HTTP(S): JSON (object or array) or a zip of JSON files."""

    def __init__(self, url: str, *, timeout: float = 60.0) -> None:
        self._url = url
        self._timeout = timeout

    @property
    def name(self) -> str:
        return self._url

    async def fetch(self) -> list[RawDocument]:
        body = await self._download()
        if body[:4] == b"PK\x03\x04":
            return await asyncio.to_thread(self._unzip, body)
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise AdvisorySourceError(self.name, f"neither a zip nor JSON: {exc}") from exc
        items = data if isinstance(data, list) else [data]
        return [
            RawDocument(f"{self.name}#{i}", json.dumps(item).encode())
            for i, item in enumerate(items)
        ]

    async def _download(self) -> bytes:
        chunks: list[bytes] = []
        size = 0
        try:
            async with (
                httpx.AsyncClient(timeout=self._timeout) as client,
                client.stream("GET", self._url) as response,
            ):
                if response.status_code != httpx.codes.OK:
                    raise AdvisorySourceError(self.name, f"HTTP {response.status_code}")
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_FEED_BYTES:
                        raise AdvisorySourceError(self.name, f"larger than {MAX_FEED_BYTES} bytes")
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise AdvisorySourceError(self.name, f"{type(exc).__name__}: {exc}") from exc
        return b"".join(chunks)

    def _unzip(self, body: bytes) -> list[RawDocument]:
        try:
            archive = zipfile.ZipFile(io.BytesIO(body))
        except zipfile.BadZipFile as exc:
            raise AdvisorySourceError(self.name, f"bad zip: {exc}") from exc
        documents = []
        with archive:
            entries = sorted(
                (i for i in archive.infolist() if i.filename.endswith(".json") and not i.is_dir()),
                key=lambda i: i.filename,
            )
            if len(entries) > MAX_FILES:
                raise AdvisorySourceError(self.name, f"more than {MAX_FILES} files")
            for info in entries:
                # file_size is the zip's claim; reading one byte past the limit checks it.
                with archive.open(info) as member:
                    content = member.read(MAX_FILE_BYTES + 1)
                if len(content) > MAX_FILE_BYTES:
                    raise AdvisorySourceError(
                        f"{self.name}!{info.filename}", f"larger than {MAX_FILE_BYTES} bytes"
                    )
                documents.append(RawDocument(f"{self.name}!{info.filename}", content))
        return documents
