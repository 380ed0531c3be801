"""Field encryption: AES-256-GCM under a tenant's data key, bound to tenant, table, column, row."""

from __future__ import annotations

import pytest

from portico_common.crypto.envelope import (
    DataKey,
    FieldBinding,
    MalformedSealedValueError,
    UnreadableSealedValueError,
    is_sealed,
    key_version,
    open_sealed,
    seal,
)
from portico_common.crypto.keyring import (
    CachedDataKeys,
    FieldCipher,
    SensitiveField,
    SensitiveFields,
    StaticDataKeys,
    TenantKeys,
    TenantKeysShreddedError,
    UndeclaredFieldError,
)

BINDING = FieldBinding("acme", "notes", "body", "row-1")
FIELDS = SensitiveFields("svc", [SensitiveField("notes", "body", "a private note")])


def test_a_sealed_value_opens_with_its_key_and_binding_only() -> None:
    """The value opens with the same key and binding; the key's version travels inside."""
    key = DataKey.generate(7)
    sealed = seal(key, BINDING, b"secret")
    assert is_sealed(sealed)
    assert key_version(sealed) == 7
    assert b"secret" not in sealed
    assert open_sealed(key, BINDING, sealed) == b"secret"


@pytest.mark.parametrize(
    "other",
    [
        FieldBinding("other", "notes", "body", "row-1"),
        FieldBinding("acme", "other", "body", "row-1"),
        FieldBinding("acme", "notes", "other", "row-1"),
        FieldBinding("acme", "notes", "body", "row-2"),
    ],
)
def test_a_value_moved_to_another_tenant_table_column_or_row_does_not_open(
    other: FieldBinding,
) -> None:
    """Every part of the binding is authenticated as associated data."""
    key = DataKey.generate(1)
    with pytest.raises(UnreadableSealedValueError, match="authentication failed"):
        open_sealed(key, other, seal(key, BINDING, b"secret"))


def test_a_tampered_value_or_another_key_does_not_open() -> None:
    """One flipped bit, or a key of the same version but other material, fails."""
    key = DataKey.generate(1)
    sealed = bytearray(seal(key, BINDING, b"secret"))
    sealed[-1] ^= 1
    with pytest.raises(UnreadableSealedValueError):
        open_sealed(key, BINDING, bytes(sealed))
    with pytest.raises(UnreadableSealedValueError):
        open_sealed(DataKey.generate(1), BINDING, seal(key, BINDING, b"secret"))


def test_bytes_in_another_format_are_not_taken_for_sealed_values() -> None:
    """A legacy value (format byte 0x01) or short bytes are recognised as not ours."""
    assert not is_sealed(b"\x01" + bytes(40))
    assert not is_sealed(b"\x02short")
    with pytest.raises(MalformedSealedValueError):
        key_version(b"\x01" + bytes(40))


def test_bindings_cannot_be_forged_by_separators_in_their_parts() -> None:
    """Parts that contain what would be a separator still give different associated data."""
    a = FieldBinding("acme", "notes/body", "x", "1")
    b = FieldBinding("acme", "notes", "body/x", "1")
    assert a.associated_data() != b.associated_data()


async def test_the_cipher_seals_with_the_primary_key_and_opens_older_versions() -> None:
    """After a rotation new values take the new version and old ones still open."""
    keys = StaticDataKeys()
    cipher = FieldCipher(FIELDS, keys)
    old = await cipher.seal_text("notes", "body", "acme", "r1", "before")
    keys.rotate("acme")
    new = await cipher.seal_text("notes", "body", "acme", "r1", "after")
    assert (key_version(old), key_version(new)) == (1, 2)
    assert await cipher.open_text("notes", "body", "acme", "r1", old) == "before"
    assert await cipher.open_text("notes", "body", "acme", "r1", new) == "after"
    assert await cipher.primary_version("acme") == 2


async def test_the_cipher_refuses_fields_its_service_did_not_declare() -> None:
    """Only declared sensitive fields are sealed: the declaration is the one place."""
    cipher = FieldCipher(FIELDS, StaticDataKeys())
    with pytest.raises(UndeclaredFieldError, match=r"notes\.title"):
        await cipher.seal_text("notes", "title", "acme", "r1", "x")


async def test_a_shredded_tenant_can_neither_seal_nor_open() -> None:
    """Once the keys are destroyed, the tenant's values stay unreadable."""
    keys = StaticDataKeys()
    cipher = FieldCipher(FIELDS, keys)
    sealed = await cipher.seal_text("notes", "body", "acme", "r1", "secret")
    keys.shred("acme")
    with pytest.raises(TenantKeysShreddedError):
        await cipher.open_text("notes", "body", "acme", "r1", sealed)
    with pytest.raises(TenantKeysShreddedError):
        await cipher.seal_text("notes", "body", "acme", "r1", "again")


class CountingKeys(StaticDataKeys):
    """Counts how often a ring is asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.fetches = 0

    async def keys_for(self, tenant_id: str) -> TenantKeys:
        self.fetches += 1
        return await super().keys_for(tenant_id)


async def test_the_cache_keeps_a_ring_for_its_ttl_and_refetches_for_an_unknown_version() -> None:
    """A ring is fetched once per TTL; a value naming a newer version fetches it at once."""
    now = [0.0]
    source = CountingKeys()
    cache = CachedDataKeys(source, ttl_seconds=60, monotonic=lambda: now[0])
    cipher = FieldCipher(FIELDS, cache)
    writer = FieldCipher(FIELDS, source)
    first = await cipher.seal_text("notes", "body", "acme", "r1", "one")
    await cipher.open_text("notes", "body", "acme", "r1", first)
    assert source.fetches == 1
    source.rotate("acme")
    newer = await writer.seal_text("notes", "body", "acme", "r1", "two")
    assert await cipher.open_text("notes", "body", "acme", "r1", newer) == "two"
    fetches = source.fetches
    now[0] = 61.0
    await cipher.seal_text("notes", "body", "acme", "r1", "three")
    assert source.fetches == fetches + 1
