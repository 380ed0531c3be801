"""Package catalogs held in memory: from a dict of packuments or a local JSON file.

The file has the npm registry's shape, so a mirror dump works as is:
`{"<name>": {"versions": {"<version>": {"dependencies": {...},
"peerDependencies": {...}}}}}` (a top-level `{"packages": {...}}` wrapper is
accepted too). Versions npm would not publish are dropped, with the reason
kept in `skipped`; anything that is not that shape is a CatalogError.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from portico_common.npm import published_version_problem
from portico_compat.domain.solver.errors import CatalogError
from portico_compat.domain.solver.model import PackageVersion


def parse_packument(name: str, document: object, skipped: list[str]) -> list[PackageVersion]:
    """The versions of one packument (`GET /<name>` on an npm registry)."""
    if not isinstance(document, dict):
        raise CatalogError(f"packument of {name!r} is not a JSON object")
    versions = document.get("versions", {})
    if not isinstance(versions, dict):
        raise CatalogError(f"packument of {name!r}: 'versions' is not an object")
    found: list[PackageVersion] = []
    for version, manifest in versions.items():
        problem = published_version_problem(version)
        if problem is not None or not isinstance(manifest, dict):
            skipped.append(f"{name} {version}: {problem or 'manifest is not an object'}")
            continue
        found.append(
            PackageVersion(
                name=name,
                version=version,
                dependencies=_ranges(manifest.get("dependencies")),
                peer_dependencies=_ranges(manifest.get("peerDependencies")),
                engines=_ranges(manifest.get("engines")),
                optional_peers=_optional(manifest.get("peerDependenciesMeta")),
            )
        )
    return found


def _optional(value: object) -> tuple[str, ...]:
    if not isinstance(value, dict):
        return ()
    return tuple(
        sorted(str(k) for k, v in value.items() if isinstance(v, dict) and v.get("optional"))
    )


def _ranges(value: object) -> dict[str, str]:
    # A non-string range stays in as text: the solver then reports it as invalid.
    if not isinstance(value, dict):
        return {}
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}


class InMemoryCatalog:
    """A fixed catalog; also what the file adapter and tests use."""

    def __init__(
        self,
        packages: Iterable[PackageVersion],
        documents: Mapping[tuple[str, str], Mapping[str, object]] | None = None,
    ) -> None:
        self._by_name: dict[str, list[PackageVersion]] = {}
        for package in packages:
            self._by_name.setdefault(package.name, []).append(package)
        # Each version's package.json as the packument has it; built from the
        # versions when none is given, so a catalog of bare versions answers too.
        self._documents = dict(documents or {})
        self.skipped: list[str] = []

    @classmethod
    def from_packuments(cls, packuments: Mapping[str, object]) -> InMemoryCatalog:
        skipped: list[str] = []
        packages = [
            v for name, doc in packuments.items() for v in parse_packument(name, doc, skipped)
        ]
        documents = {
            (name, version): manifest
            for name, doc in packuments.items()
            if isinstance(doc, dict) and isinstance(doc.get("versions"), dict)
            for version, manifest in doc["versions"].items()
            if isinstance(manifest, dict)
        }
        catalog = cls(packages, documents)
        catalog.skipped = skipped
        return catalog

    def versions(self, name: str) -> Sequence[PackageVersion]:
        return self._by_name.get(name, ())

    def package_json(self, name: str, version: str) -> Mapping[str, object] | None:
        document = self._documents.get((name, version))
        if document is not None:
            return {"name": name, "version": version, **document}
        for package in self._by_name.get(name, ()):
            if package.version == version:
                return _document_of(package)
        return None

    def names(self) -> list[str]:
        return sorted(self._by_name)


def load_catalog_file(path: Path) -> InMemoryCatalog:
    """Read a catalog file; a missing or malformed file is a CatalogError."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CatalogError(f"cannot read package catalog {str(path)!r}: {error}") from error
    if isinstance(document, dict) and isinstance(document.get("packages"), dict):
        document = document["packages"]
    if not isinstance(document, dict):
        raise CatalogError(f"package catalog {str(path)!r} is not a JSON object of packuments")
    return InMemoryCatalog.from_packuments(document)


def _document_of(package: PackageVersion) -> dict[str, object]:
    """The package.json fields a catalog entry holds."""
    return {
        "name": package.name,
        "version": package.version,
        "engines": dict(package.engines),
        "dependencies": dict(package.dependencies),
        "peerDependencies": dict(package.peer_dependencies),
        "peerDependenciesMeta": {name: {"optional": True} for name in package.optional_peers},
    }
