"""Fixtures for the CLI's tests: fake suite packages; helpers in fakes/cli_support.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

FAKES = Path(__file__).parent / "fakes"
NAMES = ("auth", "tenancy", "security", "compat", "rollout", "slo", "gateway")

# The tests import cli_support from here (pytest's importlib mode adds no test dirs).
sys.path.insert(0, str(FAKES))


@pytest.fixture
def fake_suite(tmp_path: Path) -> Path:
    """A directory of fake `portico_<name>` packages; put it first on PYTHONPATH."""
    root = tmp_path / "fake_suite"
    for name in NAMES:
        package = root / f"portico_{name}"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "__main__.py").write_text(
            f"import sys\nsys.path.insert(0, {str(FAKES)!r})\n"
            f"from fake_process import serve\nserve({name!r})\n"
        )
    return root
