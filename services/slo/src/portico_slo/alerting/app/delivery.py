"""Delivery: queued notifications sent to their channels, with retries and an outcome.

A worker claims deliveries (marked SENDING under a lease, so a crashed
worker's claims are taken again), opens the channel's secrets, sends with
exponential backoff and jitter (tenacity) while the failure is one a retry
can fix, and records the outcome. A failed delivery forgets its entry in
the notification log, so the group's next flush tells the receiver again,
as Alertmanager does when a notify fails. No text recorded or logged here
holds a secret: errors are built from status codes and redacted besides.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from portico_common.tenants import ALL_TENANTS
from portico_slo.alerting.app.ports import (
    AlertingUowFactory,
    Claimed,
    DeliveryMetrics,
    NoMetrics,
    SecretBox,
    Senders,
    secret_values,
)
from portico_slo.alerting.domain.notifications import Delivery, DeliveryState
from portico_slo.alerting.errors import AlertingError, DeliveryFailedError

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently one delivery is tried before it is recorded failed."""

    attempts: int = 4
    initial_seconds: float = 0.5
    max_seconds: float = 8.0
    jitter_seconds: float = 0.5


def redact(text: str, secrets: Sequence[str]) -> str:
    """`text` with every secret value replaced, longest first (one may contain another)."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "[redacted]")
    return text


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, DeliveryFailedError) and exc.retryable


async def claim_deliveries(
    uow: AlertingUowFactory, *, limit: int, lease: timedelta, skip_channels: frozenset[str]
) -> list[Claimed]:
    """Takes up to `limit` deliveries that are due, leaving channels already busy alone."""
    async with uow(ALL_TENANTS) as tx:
        return await tx.deliveries.claim(
            tx.clock.now(), limit=limit, lease=lease, skip_channels=skip_channels
        )


async def deliver(
    uow: AlertingUowFactory,
    box: SecretBox,
    senders: Senders,
    claimed: Claimed,
    *,
    policy: RetryPolicy,
    sleep: Sleep,
    metrics: DeliveryMetrics | None = None,
) -> Delivery:
    """Sends one claimed delivery (retrying) and records its outcome."""
    started = time.monotonic()
    delivery, channel = claimed.delivery, claimed.channel
    secrets: dict[str, str] = {}
    attempts = 0
    state, error, status = DeliveryState.FAILED, "", 0
    try:
        if channel is None or claimed.sealed_secrets is None:
            state, error = DeliveryState.DROPPED, "the channel was deleted"
        else:
            secrets = await box.open(channel.tenant_id, channel.channel_id, claimed.sealed_secrets)
            sender = senders[channel.kind]
            retrying = AsyncRetrying(
                stop=stop_after_attempt(policy.attempts),
                wait=wait_exponential_jitter(
                    multiplier=policy.initial_seconds,
                    max=policy.max_seconds,
                    jitter=policy.jitter_seconds,
                ),
                retry=retry_if_exception(_retryable),
                sleep=sleep,
                reraise=True,
            )
            async for attempt in retrying:
                with attempt:
                    attempts += 1
                    status = await sender.send(channel, secrets, delivery.notification)
            state = DeliveryState.DELIVERED
    except DeliveryFailedError as exc:
        error, status = str(exc), exc.status_code
    except AlertingError as exc:
        error = str(exc)
    except Exception as exc:  # noqa: BLE001 - any sender failure is an outcome, not a crash
        # An unexpected error's text may quote what it was given: keep its type only.
        error = f"unexpected {type(exc).__name__}"
    async with uow(delivery.tenant_id) as tx:
        finished = replace(
            delivery,
            state=state,
            attempts=delivery.attempts + attempts,
            error=redact(error, secret_values(secrets)),
            status_code=status,
            lease_until=None,
            finished_at=tx.clock.now(),
        )
        await tx.deliveries.finish(finished)
        if state is not DeliveryState.DELIVERED:
            n = delivery.notification
            await tx.nflog.forget(n.tenant_id, n.group_key, n.receiver, n.notification_id)
    (metrics or NoMetrics()).observe(
        channel.kind.value if channel is not None else "",
        finished.state.value,
        attempts,
        time.monotonic() - started,
    )
    log.info(
        "alert notification %s",
        finished.state.value,
        extra={
            "tenant": finished.tenant_id,
            "notification_id": finished.notification_id,
            "channel_id": finished.channel_id,
            "kind": channel.kind.value if channel is not None else "",
            "attempts": finished.attempts,
            "status_code": finished.status_code,
            "error": finished.error,
        },
    )
    return finished
