"""Runs every benchmark: `make bench` or `python -m bench [name ...]`."""

from __future__ import annotations

import asyncio
import sys

from bench import (
    resolve,
    retention,
    rollback_reaction,
    rollback_scale,
    slo_evaluation,
    slo_ingest,
    soak,
    solver,
    tenant_scale,
    verification,
)

BENCHMARKS = {
    "resolve": resolve.main,
    "retention": retention.main,
    "rollback_reaction": rollback_reaction.main,
    "rollback_scale": rollback_scale.main,
    "slo_ingest": slo_ingest.main,
    "slo_evaluation": slo_evaluation.main,
    "soak": soak.main,
    "solver": solver.main,
    "tenant_scale": tenant_scale.main,
    "verification": verification.main,
}


def main() -> int:
    names = sys.argv[1:] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    for name in names:
        asyncio.run(BENCHMARKS[name]())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
