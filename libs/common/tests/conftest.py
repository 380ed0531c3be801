"""Fixtures shared by the kernel's unit and integration tests."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

MakePackage = Callable[[dict[str, str]], str]


@pytest.fixture
def make_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakePackage]:
    """Writes an importable package holding the given files; returns its dotted name.

    Migrations are loaded from a package by name, so tests that need their own
    migration files get a throwaway package on sys.path.
    """
    root = tmp_path / "packages"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    made: list[str] = []

    def make(files: dict[str, str]) -> str:
        name = f"test_migrations_{len(made)}_{id(root):x}"
        package = root / name
        package.mkdir()
        (package / "__init__.py").write_text("")
        for file, text in files.items():
            (package / file).write_text(text)
        made.append(name)
        return name

    yield make
    for name in made:
        sys.modules.pop(name, None)
