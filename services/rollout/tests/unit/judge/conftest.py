"""Kayenta's own test data (ClassifierSuite, MannWhitneySuite), so the judge is tested on it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

_CASES = json.loads((Path(__file__).parent / "kayenta_cases.json").read_text())


def kayenta_case(suite: str, test: str) -> dict[str, list[float]]:
    """The arrays of one Kayenta test, by suite ("classifier" or "mannwhitney") and test name."""
    found: dict[str, Any] = _CASES[suite][test]
    return found


@pytest.fixture
def kayenta() -> Any:
    """`kayenta(suite, test)` returns that Kayenta test's arrays."""
    return kayenta_case
