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
process per batch of bundles). Where Node.js or the script's packages are
missing, `verify` raises VerifierUnavailableError saying how to install them
(`make node`, i.e. `npm ci --prefix services/security/node`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
from collections.abc import Sequence
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


class NodeSigstoreVerifier:
    """`BundleVerifier` that runs verify.js with Node.js."""

    def __init__(
        self, *, script: Path = DEFAULT_SCRIPT, node: str | None = None, timeout: float = 30.0
    ) -> None:
        self._script = script
        self._node = node
        self._timeout = timeout

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
        try:
            proc = await asyncio.create_subprocess_exec(
                *self._command(),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise VerifierUnavailableError(NAME, f"cannot start Node.js: {exc}") from None
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin), self._timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise VerifierUnavailableError(NAME, f"no answer within {self._timeout}s") from None
        if proc.returncode != 0:
            raise VerifierUnavailableError(
                NAME, f"exited with {proc.returncode}: {err.decode(errors='replace')[-500:]}"
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
