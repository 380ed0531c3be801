"""Generate deploy/grafana/portico-overview.json (the Grafana dashboard model).

The JSON is committed; the `dashboard` package beside this script is its
source, one function per row. Edit there, then run
`python3 deploy/tools/gen_dashboard.py` (standard library only); validate.sh
fails when the committed JSON differs from a fresh generation.
"""

from __future__ import annotations

import sys
from pathlib import Path

from dashboard.model import render

OUT = Path(__file__).resolve().parents[1] / "grafana" / "portico-overview.json"


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        if OUT.read_text() != text:
            print(f"{OUT} is stale: run python3 deploy/tools/gen_dashboard.py", file=sys.stderr)
            return 1
        print(f"{OUT.name} matches its generator")
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
