"""Float comparison shared by the threshold rule and its validation."""

from __future__ import annotations

import math


def at_least(value: float, threshold: float) -> bool:
    """value >= threshold, forgiving the last few bits of float rounding.

    1 - 0.99 is 0.010000000000000009, so an error rate of exactly 14.4% against
    a 99% objective computes to 14.399999999999999; without the tolerance a
    burn rate sitting exactly on the threshold would not trip.
    """
    return value >= threshold or math.isclose(value, threshold, rel_tol=1e-9)
