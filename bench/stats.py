"""Small helpers to summarise latency samples."""

from __future__ import annotations

import statistics


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def summary(samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return (
        f"n={len(ms)} p50={percentile(ms, 0.5):.2f}ms p95={percentile(ms, 0.95):.2f}ms "
        f"max={max(ms):.2f}ms mean={statistics.fmean(ms):.2f}ms"
    )
