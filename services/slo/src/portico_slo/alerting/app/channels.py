"""Channel use cases: create, read, change and delete where notifications go.

Secrets are checked, fingerprinted and sealed before any transaction
opens; a read returns the channel with fingerprints only.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace

from portico_common.tenants import require_tenant_id
from portico_slo.alerting.app.ports import AlertingUowFactory, SecretBox
from portico_slo.alerting.domain.channels import (
    Channel,
    ChannelKind,
    check_name,
    check_secrets,
    check_settings,
)
from portico_slo.alerting.errors import (
    ChannelAlreadyExistsError,
    ChannelInUseError,
    ChannelNotFoundError,
    ChannelSecretsUnavailableError,
    InvalidChannelError,
)


def channel_kind(kind: str) -> ChannelKind:
    try:
        return ChannelKind(kind)
    except ValueError:
        kinds = ", ".join(k.value for k in ChannelKind)
        raise InvalidChannelError("kind", f"{kind!r} is not one of {kinds}") from None


async def _fingerprints(
    box: SecretBox, tenant_id: str, secrets: Mapping[str, str]
) -> dict[str, str]:
    return {
        name: await box.fingerprint(tenant_id, value) for name, value in sorted(secrets.items())
    }


async def create_channel(
    uow: AlertingUowFactory,
    box: SecretBox,
    *,
    tenant_id: str,
    name: str,
    kind: str,
    send_resolved: bool,
    settings: Mapping[str, str],
    secrets: Mapping[str, str],
) -> Channel:
    """A new channel of the tenant; its secrets are stored sealed."""
    require_tenant_id(tenant_id)
    check_name(name)
    channel_kind_ = channel_kind(kind)
    checked_settings = check_settings(channel_kind_, settings)
    checked_secrets = check_secrets(channel_kind_, secrets)
    if not box.available:
        raise ChannelSecretsUnavailableError
    channel_id = str(uuid.uuid4())
    sealed = await box.seal(tenant_id, channel_id, checked_secrets)
    fingerprints = await _fingerprints(box, tenant_id, checked_secrets)
    async with uow(tenant_id) as tx:
        now = tx.clock.now()
        channel = Channel(
            tenant_id=tenant_id,
            channel_id=channel_id,
            name=name,
            kind=channel_kind_,
            send_resolved=send_resolved,
            settings=checked_settings,
            secret_fingerprints=fingerprints,
            created_at=now,
            updated_at=now,
        )
        if not await tx.channels.add(channel, sealed):
            raise ChannelAlreadyExistsError(name)
    return channel


async def get_channel(uow: AlertingUowFactory, *, tenant_id: str, channel_id: str) -> Channel:
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        channel = await tx.channels.get(tenant_id, channel_id)
    if channel is None:
        raise ChannelNotFoundError(channel_id)
    return channel


async def list_channels(uow: AlertingUowFactory, *, tenant_id: str) -> list[Channel]:
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        return sorted(await tx.channels.for_tenant(tenant_id), key=lambda c: c.name)


async def update_channel(
    uow: AlertingUowFactory,
    box: SecretBox,
    *,
    tenant_id: str,
    channel_id: str,
    send_resolved: bool | None,
    settings: Mapping[str, str] | None,
    secrets: Mapping[str, str],
) -> Channel:
    """Changes a channel; settings given replace the old ones, secrets given replace theirs.

    A secret left out keeps its stored value (the caller cannot read it to
    send it back). The name and the kind never change: routes name the channel.
    """
    require_tenant_id(tenant_id)
    if not box.available:
        raise ChannelSecretsUnavailableError
    async with uow(tenant_id) as tx:
        channel = await tx.channels.get(tenant_id, channel_id)
        sealed = await tx.channels.sealed_secrets(tenant_id, channel_id)
        if channel is None or sealed is None:
            raise ChannelNotFoundError(channel_id)
        stored = await box.open(tenant_id, channel_id, sealed)
        given = check_secrets(channel.kind, secrets, frozenset(stored))
        merged = {**stored, **given}
        updated = replace(
            channel,
            send_resolved=channel.send_resolved if send_resolved is None else send_resolved,
            settings=channel.settings
            if settings is None
            else check_settings(channel.kind, settings),
            secret_fingerprints=await _fingerprints(box, tenant_id, merged),
            updated_at=tx.clock.now(),
        )
        # Sealed anew with the tenant's primary key: a legacy row moves to it here.
        await tx.channels.update(updated, await box.seal(tenant_id, channel_id, merged))
    return updated


async def delete_channel(uow: AlertingUowFactory, *, tenant_id: str, channel_id: str) -> None:
    """Deletes a channel no route sends to; queued notifications for it are dropped."""
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        channel = await tx.channels.get(tenant_id, channel_id)
        if channel is None:
            raise ChannelNotFoundError(channel_id)
        routing = await tx.routing.get(tenant_id)
        if routing is not None and any(r.receiver == channel.name for r in routing.root.walk()):
            raise ChannelInUseError(channel.name)
        await tx.channels.delete(tenant_id, channel_id)
