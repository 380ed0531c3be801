"""Channel secrets at rest: sealed with the tenant's key, bound to their row, never in logs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from portico.slo.v1 import alerting_pb2 as pb
from portico_common.clock import ManualClock
from portico_common.crypto.envelope import is_sealed, key_version
from portico_common.crypto.keyring import FieldCipher
from portico_common.errors import FailedPreconditionError, InternalError
from portico_slo.alerting.adapters.secrets import AesGcmSecretBox, TenantSecretBox
from portico_slo.alerting.app.channels import create_channel, update_channel
from portico_slo.alerting.app.delivery import redact
from portico_slo.alerting.domain.notifications import DeliveryState
from portico_slo.alerting.errors import ChannelSecretsUnreadableError, DeliveryFailedError
from portico_slo.alerting.testing import TEST_SECRET_KEY, AlertingWorld
from portico_slo.sensitive import SLO_SENSITIVE_FIELDS

SECRETS = {
    "url": "https://hooks.example/T0/abc",
    "signing_secret": "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0",
}


def test_sealed_secrets_open_only_for_their_channel() -> None:
    """A sealed blob opens for its tenant and channel; moved to another row, it does not."""
    box = AesGcmSecretBox(TEST_SECRET_KEY)
    sealed = box.seal("acme", "ch-1", SECRETS)
    assert b"hooks.example" not in sealed
    assert box.open("acme", "ch-1", sealed) == SECRETS
    with pytest.raises(FailedPreconditionError, match="cannot be decrypted"):
        box.open("acme", "ch-2", sealed)
    with pytest.raises(FailedPreconditionError, match="cannot be decrypted"):
        box.open("globex", "ch-1", sealed)
    with pytest.raises(FailedPreconditionError, match="PORTICO_SLO_CHANNEL_SECRET_KEY"):
        AesGcmSecretBox("another key of at least thirty-two chars").open("acme", "ch-1", sealed)


def test_fingerprints_are_keyed_and_stable() -> None:
    """The same secret gives the same fingerprint under one key, another under another key."""
    box = AesGcmSecretBox(TEST_SECRET_KEY)
    other = AesGcmSecretBox("another key of at least thirty-two chars")
    assert box.fingerprint("hunter2") == box.fingerprint("hunter2")
    assert box.fingerprint("hunter2") != box.fingerprint("hunter3")
    assert box.fingerprint("hunter2") != other.fingerprint("hunter2")
    assert "hunter2" not in box.fingerprint("hunter2")


def test_a_short_key_is_refused() -> None:
    """A key too short to be random stops the service with a message saying so."""
    with pytest.raises(InternalError, match="at least 32 characters"):
        AesGcmSecretBox("short")


def test_redaction_replaces_every_secret_longest_first() -> None:
    """Text quoting a secret, or a secret within a longer one, shows none of it."""
    text = "POST https://hooks.example/T0/abc failed; token abc"
    assert redact(text, ["abc", "https://hooks.example/T0/abc"]) == (
        "POST [redacted] failed; token [redacted]"
    )


async def test_a_failing_channel_logs_and_records_no_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Even when a receiver echoes the URL in its error, neither log nor delivery log holds it."""
    world = AlertingWorld(ManualClock(datetime(2026, 3, 1, tzinfo=UTC)))
    await create_channel(
        world.uow,
        world.box,
        tenant_id="acme",
        name="hook",
        kind="webhook",
        send_resolved=True,
        settings={},
        secrets=SECRETS,
    )
    servicer = world.servicer()
    await servicer.SetRoutingTree(
        pb.SetRoutingTreeRequest(tenant_id="acme", route=pb.Route(receiver="hook")), None
    )
    world.sender.failures = [
        DeliveryFailedError(
            f"webhook answered HTTP 404: no hook at {SECRETS['url']}", retryable=False
        )
    ]
    caplog.set_level(logging.DEBUG)
    await world.violated()
    [failed] = await world.tick(30)
    assert failed.state is DeliveryState.FAILED
    assert failed.error == "webhook answered HTTP 404: no hook at [redacted]"
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "alert notification failed" in logged
    for secret in SECRETS.values():
        assert secret not in logged
        assert secret not in str(failed)


async def test_new_channels_are_sealed_with_the_tenant_key_bound_to_their_row() -> None:
    """Sealed with the tenant's data key (format 0x02, key version 1), opening for its row only."""
    world = AlertingWorld(ManualClock(datetime(2026, 3, 1, tzinfo=UTC)))
    sealed = await world.box.seal("acme", "ch-1", SECRETS)
    assert (is_sealed(sealed), key_version(sealed)) == (True, 1)
    assert b"hooks.example" not in sealed
    assert await world.box.open("acme", "ch-1", sealed) == SECRETS
    for tenant, channel in (("acme", "ch-2"), ("globex", "ch-1")):
        with pytest.raises(ChannelSecretsUnreadableError, match="cannot be decrypted"):
            await world.box.open(tenant, channel, sealed)


async def test_a_legacy_channel_stays_readable_and_moves_to_the_tenant_key_on_change() -> None:
    """A row sealed under the old setting is delivered from, and re-sealed on its next update."""
    world = AlertingWorld(ManualClock(datetime(2026, 3, 1, tzinfo=UTC)))
    channel = await create_channel(
        world.uow, world.box, tenant_id="acme", name="hook", kind="webhook",
        send_resolved=True, settings={}, secrets=SECRETS,
    )  # fmt: skip
    legacy = world.legacy_box.seal("acme", channel.channel_id, SECRETS)
    async with world.uow("acme") as tx:
        await tx.channels.update(channel, legacy)
    assert await world.box.open("acme", channel.channel_id, legacy) == SECRETS
    await update_channel(
        world.uow, world.box, tenant_id="acme", channel_id=channel.channel_id,
        send_resolved=False, settings=None, secrets={},
    )  # fmt: skip
    async with world.uow("acme") as tx:
        resealed = await tx.channels.sealed_secrets("acme", channel.channel_id)
    assert resealed is not None
    assert is_sealed(resealed)
    assert await world.box.open("acme", channel.channel_id, resealed) == SECRETS


async def test_a_legacy_row_without_the_old_key_says_which_setting_it_needs() -> None:
    """Without PORTICO_SLO_CHANNEL_SECRET_KEY an old row is refused naming that setting."""
    world = AlertingWorld(ManualClock(datetime(2026, 3, 1, tzinfo=UTC)))
    legacy = world.legacy_box.seal("acme", "ch-1", SECRETS)
    box = TenantSecretBox(FieldCipher(SLO_SENSITIVE_FIELDS, world.keys))
    with pytest.raises(ChannelSecretsUnreadableError, match="PORTICO_SLO_CHANNEL_SECRET_KEY"):
        await box.open("acme", "ch-1", legacy)


async def test_after_a_key_rotation_old_channels_open_and_new_ones_take_the_new_key() -> None:
    """DEK rotation is lazy: values keep their version until they are written again."""
    world = AlertingWorld(ManualClock(datetime(2026, 3, 1, tzinfo=UTC)))
    old = await world.box.seal("acme", "ch-1", SECRETS)
    world.keys.rotate("acme")
    new = await world.box.seal("acme", "ch-1", SECRETS)
    assert (key_version(old), key_version(new)) == (1, 2)
    assert await world.box.open("acme", "ch-1", old) == SECRETS


async def test_a_shredded_tenant_channel_secrets_are_unreadable() -> None:
    """Once tenancy destroyed the tenant's keys its channels' secrets no longer open."""
    world = AlertingWorld(ManualClock(datetime(2026, 3, 1, tzinfo=UTC)))
    sealed = await world.box.seal("acme", "ch-1", SECRETS)
    world.keys.shred("acme")
    with pytest.raises(ChannelSecretsUnreadableError, match="destroyed"):
        await world.box.open("acme", "ch-1", sealed)


async def test_fingerprints_are_keyed_per_tenant() -> None:
    """Equal secrets of one tenant compare equal; another tenant's key gives another digest."""
    world = AlertingWorld(ManualClock(datetime(2026, 3, 1, tzinfo=UTC)))
    a = await world.box.fingerprint("acme", "hunter2")
    assert a == await world.box.fingerprint("acme", "hunter2")
    assert a != await world.box.fingerprint("acme", "hunter3")
    assert a != await world.box.fingerprint("globex", "hunter2")
    assert "hunter2" not in a
