"""Tenants' data keys over the in-memory adapter and a local KMS: create, rotate, re-wrap, shred."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from portico.tenancy.v1 import keys_pb2 as pb
from portico_common.crypto.kms_local import LocalKms
from portico_common.grpc.interceptor import Context
from portico_common.grpc.tokens import Claims, current_claims
from portico_tenancy.app import keys
from portico_tenancy.errors import (
    DataKeysNotFoundError,
    DataKeysShreddedError,
    NoKmsConfiguredError,
    NotAServiceError,
)
from portico_tenancy.testing import TenancyWorld as World

NO_CONTEXT: Context = None  # type: ignore[assignment]  # the servicer never reads it


@pytest.fixture
def kms(tmp_path: Path) -> LocalKms:
    return LocalKms.create(tmp_path / "kms-key.json")


@pytest.fixture
def world(kms: LocalKms) -> World:
    return World(kek=kms)


def _as(*roles: str) -> Iterator[None]:
    token = current_claims.set(Claims("caller", "*", (), 0, "jti", roles))
    try:
        yield
    finally:
        current_claims.reset(token)


@pytest.fixture
def as_service() -> Iterator[None]:
    yield from _as("service")


async def test_the_first_request_makes_one_key_and_later_ones_return_it(world: World) -> None:
    """A tenant's first key is made once and stored only wrapped."""
    first = await keys.data_keys(world.uow, world.keys_kek, "acme")
    again = await keys.data_keys(world.uow, world.keys_kek, "acme")
    assert (first.primary, list(first.keys)) == (1, [1])
    assert again.keys[1].material == first.keys[1].material
    [stored] = world.tables.data_keys.keys.values()
    assert first.keys[1].material not in stored.wrapped
    assert (stored.kms, stored.kek_version) == ("local", 1)


async def test_rotation_adds_a_primary_version_and_keeps_the_old_one(world: World) -> None:
    """After RotateDataKey new values get version 2 and version 1 still opens old ones."""
    before = await keys.data_keys(world.uow, world.keys_kek, "acme")
    assert await keys.rotate_data_key(world.uow, world.keys_kek, "acme") == 2
    after = await keys.data_keys(world.uow, world.keys_kek, "acme")
    assert (after.primary, sorted(after.keys)) == (2, [1, 2])
    assert after.keys[1].material == before.keys[1].material


async def test_kek_rotation_rewraps_every_key_without_changing_any(
    world: World, kms: LocalKms
) -> None:
    """Every stored key moves to the new KEK version; the data keys themselves stay the same."""
    ring_a = await keys.data_keys(world.uow, kms, "acme")
    await keys.rotate_data_key(world.uow, kms, "acme")
    ring_b = await keys.data_keys(world.uow, kms, "globex")
    wrapped_before = {k: v.wrapped for k, v in world.tables.data_keys.keys.items()}
    assert await keys.rotate_key_encryption_key(world.uow, kms) == (2, 3)
    stored = world.tables.data_keys.keys
    assert {v.kek_version for v in stored.values()} == {2}
    assert all(stored[k].wrapped != wrapped_before[k] for k in stored)
    assert (await keys.data_keys(world.uow, kms, "acme")).keys[1] == ring_a.keys[1]
    assert (await keys.data_keys(world.uow, kms, "globex")).keys[1] == ring_b.keys[1]


async def test_shredding_destroys_every_key_for_good(world: World) -> None:
    """After ShredDataKeys the tenant has no key, none is made again, and rotation is refused."""
    await keys.data_keys(world.uow, world.keys_kek, "acme")
    await keys.rotate_data_key(world.uow, world.keys_kek, "acme")
    destroyed, at = await keys.shred_data_keys(world.uow, "acme")
    assert (destroyed, at) == (2, world.clock.now())
    assert world.tables.data_keys.keys == {}
    ring = await keys.data_keys(world.uow, world.keys_kek, "acme")
    assert ring.shredded
    assert world.tables.data_keys.keys == {}
    with pytest.raises(DataKeysShreddedError):
        await keys.rotate_data_key(world.uow, world.keys_kek, "acme")
    assert (await keys.shred_data_keys(world.uow, "acme"))[0] == 0


async def test_shredding_a_tenant_without_keys_leaves_a_tombstone(world: World) -> None:
    """A tenant shredded before it had keys never gets any."""
    assert (await keys.shred_data_keys(world.uow, "acme"))[0] == 0
    assert (await keys.data_keys(world.uow, world.keys_kek, "acme")).shredded


async def test_get_data_keys_goes_to_service_identities_only(world: World) -> None:
    """A platform admin holds every permission, yet only the service role receives keys."""
    for _ in _as("platform-admin"):
        with pytest.raises(NotAServiceError):
            await world.keys_servicer.GetDataKeys(
                pb.GetDataKeysRequest(tenant_id="acme"), NO_CONTEXT
            )
    for _ in _as("service"):
        reply = await world.keys_servicer.GetDataKeys(
            pb.GetDataKeysRequest(tenant_id="acme"), NO_CONTEXT
        )
    assert (reply.primary_version, len(reply.keys[0].material)) == (1, 32)


async def test_the_servicer_describes_rotates_and_shreds(world: World, as_service: None) -> None:
    """Describe shows versions and KMS without key material; shred answers what it destroyed."""
    servicer = world.keys_servicer
    with pytest.raises(DataKeysNotFoundError):
        await servicer.DescribeDataKeys(pb.DescribeDataKeysRequest(tenant_id="acme"), NO_CONTEXT)
    await servicer.RotateDataKey(pb.RotateDataKeyRequest(tenant_id="acme"), NO_CONTEXT)
    described = await servicer.DescribeDataKeys(
        pb.DescribeDataKeysRequest(tenant_id="acme"), NO_CONTEXT
    )
    assert described.primary_version == 2
    assert [(k.version, k.kms, k.kek_version) for k in described.keys] == [
        (1, "local", 1),
        (2, "local", 1),
    ]
    shred = await servicer.ShredDataKeys(pb.ShredDataKeysRequest(tenant_id="acme"), NO_CONTEXT)
    assert shred.destroyed == 2
    reply = await servicer.GetDataKeys(pb.GetDataKeysRequest(tenant_id="acme"), NO_CONTEXT)
    assert (reply.shredded, list(reply.keys)) == (True, [])
    kek = await servicer.RotateKeyEncryptionKey(pb.RotateKeyEncryptionKeyRequest(), NO_CONTEXT)
    assert (kek.kms, kek.kek_version, kek.rewrapped) == ("local", 2, 0)


async def test_without_a_kms_the_key_rpcs_name_the_setting() -> None:
    """tenancy started without PORTICO_TENANCY_KMS refuses to hand out keys, saying why."""
    servicer = World().keys_servicer
    with pytest.raises(NoKmsConfiguredError, match="PORTICO_TENANCY_KMS"):
        await servicer.GetDataKeys(pb.GetDataKeysRequest(tenant_id="acme"), NO_CONTEXT)
