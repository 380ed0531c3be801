"""Generate the Python stubs (and mypy .pyi) for every proto under proto/.

Usage: gen_protos.py [OUT_DIR]   (default: libs/contracts/src)
The committed stubs must equal a fresh run; `make proto-check` diffs them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO = ROOT / "proto"
THIRD_PARTY = ROOT / "third_party" / "googleapis"


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "libs" / "contracts" / "src"
    files = sorted(str(p.relative_to(PROTO)) for p in PROTO.rglob("*.proto"))
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{PROTO}",
        f"-I{THIRD_PARTY}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--mypy_out={out}",
        f"--grpc_python_out={out}",
        f"--mypy_grpc_out={out}",
        *files,
    ]
    code = protoc.main(args)
    if code != 0:
        return int(code)
    # protoc writes modules only; make every generated directory a regular package.
    for leaf in {(out / f).parent for f in files}:
        for directory in [leaf, *leaf.parents]:
            if directory == out:
                break
            init = directory / "__init__.py"
            if not init.exists():
                init.write_text("")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
