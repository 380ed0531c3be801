"""npm's own range fixtures (node-semver 7.x), every case, against our range check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from portico_compat.domain.ranges import satisfies


def _conformance_dir() -> Path:
    """The shared corpus lives beside the repository root (the folder holding uv.lock)."""
    for folder in Path(__file__).resolve().parents:
        if (folder / "uv.lock").is_file():
            return folder.parent / "shared" / "conformance"
    msg = f"no uv.lock above {__file__}; cannot locate the shared conformance corpus"
    raise FileNotFoundError(msg)


def _cases() -> list[Any]:
    corpus = _conformance_dir() / "node-semver" / "ranges.json"
    data = json.loads(corpus.read_text(encoding="utf-8"))
    cases = []
    for kind in ("include", "exclude"):
        for index, case in enumerate(data[kind]):
            opts = case.get("opts", {})
            flags = "".join(f",{flag}" for flag in ("loose", "includePrerelease") if opts.get(flag))
            case_id = f"{kind}-{index:03d}:{case['range']!r}:{case['version']!r}{flags}"
            cases.append(pytest.param(kind == "include", case, opts, id=case_id))
    return cases


CASES = _cases()


def test_corpus_has_every_case() -> None:
    """The corpus is read whole: 126 include and 98 exclude cases."""
    expected = [param.values[0] for param in CASES]
    assert (expected.count(True), expected.count(False)) == (126, 98)


@pytest.mark.parametrize(("expected", "case", "opts"), CASES)
def test_range_case(expected: bool, case: dict[str, Any], opts: dict[str, Any]) -> None:
    """The version satisfies the range exactly when node-semver says it does."""
    check = satisfies(
        case["version"],
        case["range"],
        loose=bool(opts.get("loose")),
        include_prerelease=bool(opts.get("includePrerelease")),
    )
    assert check.ok is expected, check.reason
