"""Sigstore bundle verification with npm's own verifier, `@sigstore/verify`, on Node.js.

Why Node.js: npm's attestations (the publish attestation and the SLSA
provenance of every package published with `--provenance`) are logged in
Rekor as intoto/0.0.2 entries, and sigstore-python 4.5.1 refuses those
("Integrated time only supported for dsse/hashedrekord 0.0.1 types",
sigstore-python issue 1384, open). It also has no managed-key (public-key
hint) verification, which the publish attestation needs (signed by the npm
registry's key). `@sigstore/verify` is the verifier npm itself runs
(`npm audit signatures`) and verifies both kinds offline against a trusted
root; no maintained Python library does. No signature or certificate is
parsed here: this module only ships JSON to `services/security/node/verify.js`
and reads its answer.

The script runs as a subprocess (JSON on stdin/stdout, a timeout, one
process per batch of bundles). It reads untrusted bundles, so it gets as
little as the job needs: an environment of PATH, HOME and NODE_* only (no
PORTICO_* setting, no database URL, no token or secret of the service); at
most `max_processes` of them at a time (the rest wait their turn); and its
own process group, killed and reaped with everything it started when the
verification is cancelled or times out. Where Node.js or the script's
packages are missing, `verify` raises VerifierUnavailableError saying how to
install them (`make node`, i.e. `npm ci --prefix services/security/node`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from portico_security.verification.domain.provenance import (
    BundleOutcome,
    BundleRequest,
    TrustConfig,
)
from portico_security.verification.errors import TrustConfigError, VerifierUnavailableError

# services/security/node, next to this package's source tree.
DEFAULT_SCRIPT = Path(__file__).resolve().parents[4] / "node" / "verify.js"
NAME = "@sigstore/verify (Node.js)"
DEFAULT_MAX_PROCESSES = 4

# What the child inherits: where programs and its home are, and Node's own settings,
# minus anything named like a credential (NODE_AUTH_TOKEN is npm's publish token).
_INHERITED = re.compile(r"PATH|HOME|NODE_\w+")
_CREDENTIAL = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|KEY", re.IGNORECASE)


def child_environment(parent: Mapping[str, str]) -> dict[str, str]:
    """The environment the Node.js verifier runs with, taken from `parent`."""
    return {
        name: value
        for name, value in parent.items()
        if _INHERITED.fullmatch(name) and not _CREDENTIAL.search(name)
    }


class NodeSigstoreVerifier:
    """`BundleVerifier` that runs verify.js with Node.js."""

    def __init__(
        self,
        *,
        script: Path = DEFAULT_SCRIPT,
        node: str | None = None,
        timeout: float = 30.0,
        max_processes: int = DEFAULT_MAX_PROCESSES,
    ) -> None:
        if max_processes < 1:
            raise ValueError(f"max_processes must be at least 1, got {max_processes}")
        self._script = script
        self._node = node
        self._timeout = timeout
        # Each verification is one Node.js process (tens of MB); a burst of
        # VerifyProvenance calls queues here instead of exhausting the host.
        self._slots = asyncio.Semaphore(max_processes)

    @property
    def name(self) -> str:
        return NAME

    def _command(self) -> list[str]:
        node = self._node or shutil.which("node")
        if node is None:
            raise VerifierUnavailableError(NAME, "Node.js (node) is not on PATH; install Node 20+")
        modules = self._script.parent / "node_modules" / "@sigstore" / "verify"
        if not self._script.is_file() or not modules.is_dir():
            raise VerifierUnavailableError(
                NAME,
                f"{self._script.parent} has no installed packages;"
                f" run `npm ci --prefix {self._script.parent}` (or `make node`)",
            )
        return [node, str(self._script)]

    async def verify(
        self, requests: Sequence[BundleRequest], trust: TrustConfig
    ) -> list[BundleOutcome]:
        return await self.verify_each([(request, trust) for request in requests])

    async def verify_each(
        self, pairs: Sequence[tuple[BundleRequest, TrustConfig]]
    ) -> list[BundleOutcome]:
        """Like `verify`, each bundle against its own trust, in one Node.js process."""
        if not pairs:
            return []
        roots: dict[str, Any] = {}
        items = []
        for request, trust in pairs:
            if trust.trusted_root_json not in roots:
                try:
                    roots[trust.trusted_root_json] = json.loads(trust.trusted_root_json)
                except ValueError as exc:
                    raise TrustConfigError(f"trusted root is not JSON: {exc}") from None
            items.append(
                {
                    "bundle": request.bundle,
                    "artifact": None
                    if request.artifact is None
                    else base64.b64encode(request.artifact).decode(),
                    "trusted_root": roots[trust.trusted_root_json],
                    "keys": [
                        {
                            "keyid": key.key_id,
                            "spki": base64.b64encode(key.spki_der).decode(),
                            "expires": key.expires.isoformat() if key.expires else None,
                        }
                        for key in trust.keys
                    ],
                    "identity": request.identity,
                    "issuer": request.issuer,
                }
            )
        answer = await self._run(json.dumps({"items": items}).encode())
        results = answer.get("results")
        if not isinstance(results, list) or len(results) != len(pairs):
            raise VerifierUnavailableError(NAME, f"unexpected answer: {str(answer)[:200]}")
        return [_outcome(result) for result in results]

    async def _run(self, stdin: bytes) -> dict[str, Any]:
        command = self._command()
        async with self._slots:
            out, err, returncode = await self._communicate(command, stdin)
        if returncode != 0:
            raise VerifierUnavailableError(
                NAME, f"exited with {returncode}: {err.decode(errors='replace')[-500:]}"
            )
        try:
            answer = json.loads(out)
        except ValueError:
            raise VerifierUnavailableError(NAME, f"answer is not JSON: {out[:200]!r}") from None
        if not isinstance(answer, dict):
            raise VerifierUnavailableError(NAME, "answer is not a JSON object")
        if "error" in answer:
            raise VerifierUnavailableError(NAME, str(answer["error"]))
        return answer

    async def _communicate(self, command: list[str], stdin: bytes) -> tuple[bytes, bytes, int]:
        """Run one verifier process to its end; kill it (and its group) if we stop waiting."""
        try:
            proc = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=child_environment(os.environ),
                # Its own process group, so whatever it starts is killed with it.
                start_new_session=True,
            )
        except OSError as exc:
            raise VerifierUnavailableError(NAME, f"cannot start Node.js: {exc}") from None
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin), self._timeout)
        except TimeoutError:
            raise VerifierUnavailableError(NAME, f"no answer within {self._timeout}s") from None
        finally:
            # Timed out, or the caller was cancelled (a gRPC deadline, a client
            # gone): nothing may be left running or unreaped.
            if proc.returncode is None:
                await _kill(proc)
        assert proc.returncode is not None  # noqa: S101 - communicate() waited for the exit
        return out, err, proc.returncode


async def _kill(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    # Shielded: a second cancellation must not leave the child unreaped.
    await asyncio.shield(proc.wait())


def _outcome(result: Any) -> BundleOutcome:
    if not isinstance(result, dict):
        return BundleOutcome(ok=False, kind="input", message="verifier gave no result")
    if not result.get("ok"):
        return BundleOutcome(
            ok=False, kind=str(result.get("kind", "")), message=str(result.get("message", ""))
        )
    signer = result.get("signer") or {}
    payload = result.get("payload")
    return BundleOutcome(
        ok=True,
        signer_identity=str(signer.get("identity", "")),
        signer_issuer=str(signer.get("issuer", "")),
        key_hint=str(result.get("key_hint") or ""),
        payload_type=str(result.get("payload_type") or ""),
        payload=base64.b64decode(payload) if payload else b"",
    )
