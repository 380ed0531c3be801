"""Client metadata sealed with the tenant's data key on real PostgreSQL.

The row holds only ciphertext bound to the client's tenant and id; without a
key source metadata is refused rather than stored in plaintext; once the
tenant's keys are shredded it never opens again.
"""

from __future__ import annotations

import asyncpg
import pytest

from portico_auth.adapters.key_encryption import KeyEncryptor
from portico_auth.adapters.postgres import AuthPgUnitOfWork
from portico_auth.app.ports import UnitOfWorkFactory
from portico_auth.domain.clients import Client
from portico_auth.errors import ClientMetadataUnsealableError
from portico_common.clock import SystemClock
from portico_common.crypto.envelope import UnreadableSealedValueError, is_sealed
from portico_common.crypto.keyring import StaticDataKeys, TenantKeysShreddedError
from portico_common.db import ALL_TENANTS, Database
from portico_common.uow import uow_factory
from portico_embedded.testing.fixtures import unique_tenant

pytestmark = pytest.mark.integration

METADATA = {"owner": "team-payments", "escalation": "+1 555 0100 (on-call)"}


async def _sealed(database_url: str, client_id: str) -> bytes | None:
    admin = await asyncpg.connect(database_url)
    try:
        value = await admin.fetchval(
            "SELECT metadata_sealed FROM auth.clients WHERE client_id = $1", client_id
        )
    finally:
        await admin.close()
    return None if value is None else bytes(value)


async def test_metadata_is_stored_only_sealed_bound_to_its_client_and_shreddable(
    pg_uow: UnitOfWorkFactory, data_keys: StaticDataKeys, database_url: str
) -> None:
    """Ciphertext in the row; it opens for its client only, and never after a shred."""
    tenant = unique_tenant()
    bot = Client.register("bot", "scrypt$x", [tenant], ["slos.read"])
    other = Client.register("other", "scrypt$y", [tenant], ["slos.read"])
    async with pg_uow(ALL_TENANTS) as tx:
        await tx.clients.upsert(bot)
        await tx.clients.upsert(other)
        await tx.client_metadata.put(bot, METADATA)
    sealed = await _sealed(database_url, "bot")
    assert sealed is not None
    assert is_sealed(sealed)
    assert b"team-payments" not in sealed
    assert b"555" not in sealed
    async with pg_uow(ALL_TENANTS) as tx:
        assert await tx.client_metadata.get_many([bot, other]) == {"bot": METADATA}

    # Bound to its row: the same ciphertext under another client's id does not open.
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(
            "UPDATE auth.clients SET metadata_sealed = $1 WHERE client_id = 'other'", sealed
        )
    finally:
        await admin.close()
    with pytest.raises(UnreadableSealedValueError):
        async with pg_uow(ALL_TENANTS) as tx:
            await tx.client_metadata.get_many([other])

    data_keys.shred(tenant)
    with pytest.raises(TenantKeysShreddedError):
        async with pg_uow(ALL_TENANTS) as tx:
            await tx.client_metadata.get_many([bot])
    assert await _sealed(database_url, "bot") == sealed


async def test_without_a_key_source_metadata_is_refused_not_stored_in_plaintext(
    auth_db: Database, kek: str
) -> None:
    """No tenancy to get keys from: FAILED_PRECONDITION, and the transaction writes nothing."""
    encryptor = KeyEncryptor(kek)
    plain = uow_factory(
        auth_db, lambda conn, _t: AuthPgUnitOfWork(conn, encryptor=encryptor, clock=SystemClock())
    )
    bot = Client.register("bot", "scrypt$x", [unique_tenant()], ["slos.read"])

    async def register_with_metadata() -> None:
        async with plain(ALL_TENANTS) as tx:
            await tx.clients.upsert(bot)
            await tx.client_metadata.put(bot, METADATA)

    with pytest.raises(ClientMetadataUnsealableError, match="PORTICO_TENANCY_TARGET") as refused:
        await register_with_metadata()
    assert refused.value.code == "FAILED_PRECONDITION"
    async with plain(ALL_TENANTS) as tx:
        assert await tx.clients.get("bot") is None
