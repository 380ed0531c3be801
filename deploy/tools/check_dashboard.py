"""Check deploy/grafana/portico-overview.json: a well-formed Grafana dashboard model.

Standard library only. Checks the structure Grafana relies on (unique panel
ids, a non-overlapping 24-column grid, every query bound to the
${datasource} variable, every $variable defined) and writes every PromQL
expression, with Grafana's variables substituted, into a rule file for
`promtool check rules` (argument: where to write it).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

DASHBOARD = Path(__file__).resolve().parents[1] / "grafana" / "portico-overview.json"
BUILTINS = {"__rate_interval": "5m", "__range": "1h", "__interval": "1m"}


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp/portico-dashboard-exprs.yml")
    model: dict[str, Any] = json.loads(DASHBOARD.read_text())
    for key in ("uid", "title", "schemaVersion", "panels", "templating"):
        assert key in model, f"missing {key}"
    variables = {v["name"]: v for v in model["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"

    ids: set[int] = set()
    cells: set[tuple[int, int]] = set()
    exprs: list[tuple[str, str]] = []
    for panel in model["panels"]:
        pid = panel["id"]
        assert pid not in ids, f"duplicate panel id {pid}"
        ids.add(pid)
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, f"panel {pid} leaves the grid"
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"panel {pid} overlaps another at {(x, y)}"
                cells.add((x, y))
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, pid
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), f"panel {pid}: duplicate refIds"
        for t in panel["targets"]:
            assert t["datasource"]["uid"] == "${datasource}", pid
            exprs.append((f"panel {pid} ({panel['title']}) {t['refId']}", t["expr"]))
    for annotation in model["annotations"]["list"]:
        if "expr" in annotation:
            exprs.append((f"annotation {annotation['name']}", annotation["expr"]))
    for name, var in variables.items():
        if var["type"] == "query":
            inner = re.search(r"label_values\((.*),\s*\w+\)$", var["query"]["query"])
            assert inner, f"variable {name}: unexpected query"
            exprs.append((f"variable {name}", inner.group(1)))

    def substitute(expr: str) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            if name in BUILTINS:
                return BUILTINS[name]
            assert name in variables, f"undefined variable ${name} in {expr}"
            return ".*"

        return re.sub(r"\$\{(\w+)\}|\$(\w+)", one, expr)

    rules = [
        {"record": f"dashboard:expr_{i}", "expr": substitute(expr)}
        for i, (_, expr) in enumerate(exprs)
    ]
    out.write_text(json.dumps({"groups": [{"name": "dashboard-exprs", "rules": rules}]}, indent=1))
    print(
        f"{DASHBOARD.name}: {len(ids)} panels, {len(variables)} variables, grid ok; "
        f"{len(exprs)} PromQL expressions written to {out} for promtool"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
