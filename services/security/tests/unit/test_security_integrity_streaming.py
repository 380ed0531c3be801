"""Integrity hardening: the tarball is hashed in bounded slices without copies, with any of
SRI's SHA-2 algorithms, through the verify use case."""

from __future__ import annotations

import pytest

from portico_security.testing.artifacts import Publisher
from portico_security.verification.app import verify
from portico_security.verification.app.commands import VerifyArtifact
from portico_security.verification.app.ports import VerificationUowFactory
from portico_security.verification.domain.integrity import IntegrityHasher, compute_sri
from portico_security.verification.domain.verification import Verdict

PLUGIN = "@acme/plugin-cost-insights"


class RecordingHasher(IntegrityHasher):
    """An IntegrityHasher that remembers the type and size of every chunk it was fed."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.chunks: list[tuple[type, int]] = []

    def update(self, chunk: bytes | bytearray | memoryview) -> None:
        self.chunks.append((type(chunk), len(chunk)))
        super().update(chunk)


async def test_tarball_is_fed_in_bounded_zero_copy_slices() -> None:
    """A 1 MiB + 1 byte tarball reaches the hasher as memoryview slices of at most the chunk
    size, never as one whole-artifact buffer, and still matches its integrity."""
    data = bytes(range(256)) * 4096 + b"x"
    hasher = RecordingHasher(compute_sri(data))
    await verify._hash_in_chunks(hasher, data, 64 * 1024)
    assert {kind for kind, _ in hasher.chunks} == {memoryview}
    assert max(size for _, size in hasher.chunks) == 64 * 1024
    assert sum(size for _, size in hasher.chunks) == len(data)
    assert hasher.matches()


@pytest.mark.parametrize("algorithm", ["sha256", "sha384", "sha512"])
@pytest.mark.usefixtures("registered")
async def test_every_sri_algorithm_verifies_end_to_end(
    uow: VerificationUowFactory, publisher: Publisher, algorithm: str
) -> None:
    """A tarball whose signed integrity uses sha256, sha384 or sha512 is VERIFIED, streamed in
    small chunks."""
    artifact = publisher.publish(PLUGIN, "1.0.0")
    integrity = compute_sri(artifact.tarball, algorithm)
    verification = await verify.verify_artifact(
        uow,
        VerifyArtifact(
            tenant_id="acme",
            plugin=PLUGIN,
            version="1.0.0",
            tarball=artifact.tarball,
            integrity=integrity,
            signature=publisher.sign(PLUGIN, "1.0.0", integrity),
            key_id=publisher.key_id,
        ),
        max_size=1024 * 1024,
        chunk_size=97,
    )
    assert verification.verdict is Verdict.VERIFIED, verification.report.reasons
