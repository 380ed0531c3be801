"""Measuring how deeply a JSON body nests, without parsing it."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from portico_gateway.nesting import exceeds, json_depth


def parsed_depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(parsed_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(parsed_depth, value.values()), default=0)
    return 0


@pytest.mark.parametrize(
    "document",
    [
        1,
        "text",
        [],
        {},
        [[], [[]], {"a": {"b": [1]}}],
        {"brackets in a string": "[[[{{{", "escaped quote": 'say \\"[[[\\" twice'},
        {'key with "[" in it': ["]]]", {"x": "\\\\"}]},
        [[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]],
    ],
)
def test_depth_equals_the_parsed_documents_depth(document: Any) -> None:
    """Brackets inside strings, escaped quotes and backslashes do not fool the count."""
    body = json.dumps(document).encode()

    assert json_depth(body) == parsed_depth(document)


def test_the_limit_is_inclusive() -> None:
    """A body exactly `limit` levels deep passes; one level more does not."""
    at_limit = b"[" * 64 + b"]" * 64

    assert not exceeds(at_limit, 64)
    assert exceeds(b"[" + at_limit + b"]", 64)


def test_unclosed_openers_count_as_depth() -> None:
    """A body that only opens (what makes a parser recurse without end) is too deep."""
    assert exceeds(b'{"a":' * 5000, 64)
    assert exceeds(b"[" * 5000, 64)


def test_a_body_at_the_size_limit_is_measured_quickly() -> None:
    """8 MiB of brackets is measured in well under the time a request may take."""
    body = (b"[" * 64 + b"]" * 64) * (8 * 1024 * 1024 // 128)

    started = time.perf_counter()
    assert not exceeds(body, 64)
    assert time.perf_counter() - started < 3.0
