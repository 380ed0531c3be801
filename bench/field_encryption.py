"""Sealing and opening one field with a tenant's key: `python -m bench.field_encryption`.

Keys come from memory (a service's cache hit), so this is the cipher and its
framing alone: what a service adds to a write or read of a sealed field once
the tenant's ring is cached.
"""

from __future__ import annotations

import asyncio
import time

from portico_common.crypto.keyring import (
    FieldCipher,
    SensitiveField,
    SensitiveFields,
    StaticDataKeys,
)

FIELDS = SensitiveFields("bench", [SensitiveField("t", "c", "a benchmark field")])
ROUNDS = 20_000


async def main() -> None:
    cipher = FieldCipher(FIELDS, StaticDataKeys())
    value = "https://hooks.example/" + "x" * 200
    sealed = await cipher.seal_text("t", "c", "acme", "row", value)
    started = time.perf_counter()
    for _ in range(ROUNDS):
        sealed = await cipher.seal_text("t", "c", "acme", "row", value)
    sealing = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(ROUNDS):
        await cipher.open_text("t", "c", "acme", "row", sealed)
    opening = time.perf_counter() - started
    print(
        f"{len(value)}-byte value: seal {1e6 * sealing / ROUNDS:.1f} us,"
        f" open {1e6 * opening / ROUNDS:.1f} us, {len(sealed) - len(value)} bytes of overhead"
    )


if __name__ == "__main__":
    asyncio.run(main())
