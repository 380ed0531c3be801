"""Channel secrets at rest: sealed with AES-GCM, bound to their row, never in logs or errors."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from portico.slo.v1 import alerting_pb2 as pb
from portico_common.clock import ManualClock
from portico_common.errors import FailedPreconditionError, InternalError
from portico_slo.alerting.adapters.secrets import AesGcmSecretBox
from portico_slo.alerting.app.channels import create_channel
from portico_slo.alerting.app.delivery import redact
from portico_slo.alerting.domain.notifications import DeliveryState
from portico_slo.alerting.errors import DeliveryFailedError
from portico_slo.alerting.testing import TEST_SECRET_KEY, AlertingWorld

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
