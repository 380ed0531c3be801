"""The Node.js adapter's failure modes: each is VerifierUnavailableError saying what to fix."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from portico_security.verification.adapters.sigstore_node import (
    DEFAULT_SCRIPT,
    NodeSigstoreVerifier,
)
from portico_security.verification.domain.provenance import BundleRequest, TrustConfig
from portico_security.verification.errors import TrustConfigError, VerifierUnavailableError

TRUST = TrustConfig(trusted_root_json="{}")
REQUEST = BundleRequest(bundle={})


def fake_node(tmp_path: Path, body: str) -> str:
    """An executable standing in for `node` (a shell script)."""
    path = tmp_path / "node"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


async def test_missing_packages_say_how_to_install_them(tmp_path: Path) -> None:
    """A script directory without node_modules names the npm ci command to run."""
    script = tmp_path / "verify.js"
    script.write_text("")
    verifier = NodeSigstoreVerifier(script=script, node=fake_node(tmp_path, "exit 0"))
    with pytest.raises(VerifierUnavailableError, match=re.escape(f"npm ci --prefix {tmp_path}")):
        await verifier.verify([REQUEST], TRUST)


async def test_unstartable_node_is_unavailable(tmp_path: Path) -> None:
    """A node binary that does not exist is UNAVAILABLE, not a crash."""
    verifier = NodeSigstoreVerifier(node=str(tmp_path / "no-such-node"))
    with pytest.raises(VerifierUnavailableError, match=r"cannot start Node\.js") as raised:
        await verifier.verify([REQUEST], TRUST)
    assert raised.value.code == "UNAVAILABLE"


async def test_slow_verifier_times_out(tmp_path: Path) -> None:
    """A verifier that does not answer in time is killed and reported."""
    verifier = NodeSigstoreVerifier(node=fake_node(tmp_path, "exec sleep 5"), timeout=0.2)
    with pytest.raises(VerifierUnavailableError, match=r"no answer within 0.2s"):
        await verifier.verify([REQUEST], TRUST)


async def test_non_json_answer_is_unavailable(tmp_path: Path) -> None:
    """An answer that is not JSON is reported with its first bytes."""
    verifier = NodeSigstoreVerifier(node=fake_node(tmp_path, "cat >/dev/null; echo oops"))
    with pytest.raises(VerifierUnavailableError, match="answer is not JSON: b'oops"):
        await verifier.verify([REQUEST], TRUST)


async def test_failing_process_reports_its_stderr(tmp_path: Path) -> None:
    """A non-zero exit is reported with the end of its stderr."""
    verifier = NodeSigstoreVerifier(node=fake_node(tmp_path, "echo broken >&2; exit 3"))
    with pytest.raises(VerifierUnavailableError, match="exited with 3: broken"):
        await verifier.verify([REQUEST], TRUST)


async def test_unparseable_trusted_root_is_a_configuration_error() -> None:
    """A trusted root that is not JSON is refused before any process starts."""
    with pytest.raises(TrustConfigError, match="trusted root is not JSON"):
        await NodeSigstoreVerifier().verify([REQUEST], TrustConfig(trusted_root_json="{"))


async def test_malformed_bundle_is_a_rejection_not_an_error() -> None:
    """The real script answers a malformed bundle with a 'malformed' outcome."""
    assert DEFAULT_SCRIPT.is_file()
    [outcome] = await NodeSigstoreVerifier().verify([BundleRequest(bundle={"x": 1})], TRUST)
    assert not outcome.ok
    assert outcome.kind in {"malformed", "input"}
    assert outcome.message
