"""The placer's backoff between attempts at a failed placement: doubling, capped, jittered."""

from __future__ import annotations

import pytest

from portico_common.placer import Backoff


def test_the_delay_doubles_from_the_base_up_to_the_cap_with_equal_jitter() -> None:
    low, high = Backoff(unit=lambda: 0.0), Backoff(unit=lambda: 0.999999)
    assert [low.delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert high.delay(1) == pytest.approx(1.0)
    assert high.delay(9) == pytest.approx(256.0)
    # 2**9 = 512 s is past the five minutes: capped, still jittered.
    assert low.delay(10) == 150.0
    assert high.delay(10) == pytest.approx(300.0)
    assert high.delay(10_000) == pytest.approx(300.0)


def test_failures_count_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        Backoff().delay(0)
