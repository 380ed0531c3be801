"""No tracked file keeps a merge's conflict markers."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(rb"^(<{7} |>{7} |={7}$)", re.MULTILINE)


def test_no_tracked_file_holds_conflict_markers() -> None:
    """A half-resolved merge is caught before it lands, in code and in docs alike."""
    git = shutil.which("git")
    assert git is not None, "git is needed to list the tracked files"
    listed = subprocess.run(  # noqa: S603 - git, with fixed arguments
        [git, "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout.split(b"\0")
    found = [
        name.decode()
        for name in listed
        if name
        and (ROOT / name.decode()).is_file()
        and MARKER.search((ROOT / name.decode()).read_bytes())
    ]
    assert found == []
