"""Rewrite the generated tables of docs/authorization.md from roles.toml and the protos.

Usage: gen_authz_doc.py [--check]
With --check nothing is written; the exit code says whether the document is current.
"""

from __future__ import annotations

import sys
from pathlib import Path

from portico_common.authz.policy import default_policy
from portico_common.authz.reference import every_rpc, render, sections

DOC = Path(__file__).resolve().parent.parent / "docs" / "authorization.md"


def main() -> int:
    current = DOC.read_text()
    wanted = render(current, sections(default_policy(), every_rpc()))
    if "--check" in sys.argv[1:]:
        if wanted != current:
            print(f"{DOC} is stale: run scripts/gen_authz_doc.py", file=sys.stderr)
            return 1
        return 0
    if wanted != current:
        DOC.write_text(wanted)
        print(f"rewrote {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
