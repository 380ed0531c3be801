"""Verification throughput: integrity + publisher signature, Portico next to raw primitives.

For tarballs of 100 KiB and 5 MiB, in the same run on the same bytes:

- raw: `hashlib.sha512` over the bytes, a constant-time digest comparison and
  one `cryptography` signature verify of `NAME@VERSION:INTEGRITY`;
- domain: the path VerifyArtifact's use case takes, minus I/O: parse the
  claimed SRI, stream the tarball through IntegrityHasher in the use case's
  64 KiB slices, then `verification.verify_artifact` (package name, size,
  integrity, publisher key lifecycle, signature);
- use case: `verify.verify_artifact` over the in-memory unit of work (adds
  the event-loop yields between slices, the decision record and its event).

Each is timed for Ed25519 and ECDSA P-256 keys. Throughput is tarball MB/s
(10^6 bytes) over the best of several rounds; ratio = portico / raw (target
>= 0.8 for the domain path).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from portico_common.clock import ManualClock
from portico_security.verification.adapters.memory import VerificationMemoryStore
from portico_security.verification.app import verify
from portico_security.verification.app.commands import VerifyArtifact
from portico_security.verification.domain import verification as rules
from portico_security.verification.domain.integrity import compute_sri, parse_integrity
from portico_security.verification.domain.signatures import (
    KeyAlgorithm,
    PublisherKey,
    signed_message,
)

KIB = 1024
SIZES = (100 * KIB, 5 * 1024 * KIB)
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))
# Per round, enough repetitions to run for a while at each size.
BYTES_PER_ROUND = int(os.environ.get("BENCH_BYTES_PER_ROUND", str(20 * 1024 * KIB)))
CHUNK = verify.CHUNK_SIZE
PLUGIN, VERSION = "@acme/plugin-cost-insights", "2.3.0"
NOW = datetime(2026, 3, 1, tzinfo=UTC)
_ECDSA = ec.ECDSA(hashes.SHA256())


class Signer:
    def __init__(self, algorithm: KeyAlgorithm) -> None:
        self.algorithm = algorithm
        if algorithm is KeyAlgorithm.ED25519:
            self._ed = Ed25519PrivateKey.generate()
            public: Ed25519PublicKey | ec.EllipticCurvePublicKey = self._ed.public_key()
        else:
            self._ec = ec.generate_private_key(ec.SECP256R1())
            public = self._ec.public_key()
        self.public = public
        pem = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")
        self.key = PublisherKey(
            tenant_id="bench",
            publisher="acme",
            key_id=f"bench-{algorithm}",
            algorithm=algorithm,
            public_key_pem=pem,
            created_at=NOW,
        )

    def sign(self, message: bytes) -> bytes:
        if self.algorithm is KeyAlgorithm.ED25519:
            return self._ed.sign(message)
        return self._ec.sign(message, _ECDSA)

    def raw_verify(self, signature: bytes, message: bytes) -> None:
        if isinstance(self.public, Ed25519PublicKey):
            self.public.verify(signature, message)
        else:
            self.public.verify(signature, message, _ECDSA)


async def timed(run: Callable[[], object], repeat: int) -> float:
    """Seconds for `repeat` calls of `run` (awaited when it returns an awaitable)."""
    start = time.perf_counter()
    for _ in range(repeat):
        result = run()
        if isinstance(result, Awaitable):
            await result
    return time.perf_counter() - start


async def measure(size: int, signer: Signer) -> tuple[float, float, float]:
    tarball = os.urandom(size)
    integrity = compute_sri(tarball)
    message = signed_message(PLUGIN, VERSION, integrity)
    signature = signer.sign(message)
    expected = parse_integrity(integrity).digest
    repeat = max(1, BYTES_PER_ROUND // size)

    def raw() -> None:
        digest = hashlib.sha512(tarball).digest()
        if not hmac.compare_digest(digest, expected):
            raise AssertionError("raw digest mismatch")
        signer.raw_verify(signature, signed_message(PLUGIN, VERSION, integrity))

    def domain() -> None:
        claim = rules.ArtifactClaim(
            tenant_id="bench",
            plugin=PLUGIN,
            version=VERSION,
            integrity=integrity,
            signature=signature,
            key_id=signer.key.key_id,
            size=size,
        )
        hasher = rules.hasher_for(claim)
        assert hasher is not None
        view = memoryview(tarball)
        for start in range(0, size, CHUNK):
            hasher.update(view[start : start + CHUNK])
        report = rules.verify_artifact(claim, hasher, signer.key, max_size=64 * 1024 * KIB, now=NOW)
        if report.verdict is not rules.Verdict.VERIFIED:
            raise AssertionError(report.reasons)

    store = VerificationMemoryStore(ManualClock(NOW))
    store.state.keys["bench", signer.key.key_id] = signer.key
    uow = store.uow_factory()
    command = VerifyArtifact(
        tenant_id="bench",
        plugin=PLUGIN,
        version=VERSION,
        tarball=tarball,
        integrity=integrity,
        signature=signature,
        key_id=signer.key.key_id,
    )

    async def use_case() -> None:
        verification = await verify.verify_artifact(uow, command, max_size=64 * 1024 * KIB)
        if verification.verdict is not rules.Verdict.VERIFIED:
            raise AssertionError(verification.report.reasons)
        store.state.verifications.clear()
        store.sink.events.clear()

    # Rounds interleave the three, so a busy neighbour slows them alike;
    # the best round of each is its figure.
    best = [float("inf")] * 3
    for _ in range(ROUNDS):
        for index, run in enumerate((raw, domain, use_case)):
            best[index] = min(best[index], await timed(run, repeat))
    raw_mb_s, domain_mb_s, use_case_mb_s = (size * repeat / seconds / 1e6 for seconds in best)
    return raw_mb_s, domain_mb_s, use_case_mb_s


async def main() -> None:
    print("verification throughput (integrity sha512 + publisher signature), MB/s, best of")
    print(f"{ROUNDS} rounds; ratio = portico / raw hashlib + cryptography on the same bytes")
    print(
        f"  {'tarball':>8} {'key':>10} {'raw':>9} {'domain':>9} {'ratio':>6} "
        f"{'use case':>9} {'ratio':>6}"
    )
    for size in SIZES:
        for algorithm in (KeyAlgorithm.ED25519, KeyAlgorithm.ECDSA_P256):
            raw, domain, use_case = await measure(size, Signer(algorithm))
            label = f"{size // KIB} KiB" if size < 1024 * KIB else f"{size // (1024 * KIB)} MiB"
            print(
                f"  {label:>8} {algorithm.value:>10} {raw:9.1f} {domain:9.1f} "
                f"{domain / raw:6.2f} {use_case:9.1f} {use_case / raw:6.2f}"
            )
