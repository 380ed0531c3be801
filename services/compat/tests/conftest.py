"""Real Backstage data for every compat test: published manifests and package.json files.

The files are under `fixtures/backstage` (their sources are in its README).
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass
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
