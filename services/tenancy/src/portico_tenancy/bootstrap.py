"""The one place that wires tenancy's dependencies; nothing connects at import.

`build` is pure wiring: given the outside world (`Dependencies`), it returns
what `serve` runs (`Components`). `run` builds the real dependencies on a
started Runtime; unit tests call `build` with in-memory ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from portico.tenancy.v1 import keys_pb2, keys_pb2_grpc, tenancy_pb2, tenancy_pb2_grpc
from portico_common.clock import Clock
from portico_common.crypto.kms import KeyEncryptionKey
from portico_common.crypto.kms_local import LocalKeyFileError, LocalKms
from portico_common.crypto.kms_vault import VaultTransitKms
from portico_common.events.consumer import Subscription
from portico_common.grpc.registration import Servicer
from portico_common.runtime import Background, Runtime, bootstrap_process, serve
from portico_tenancy.adapters.postgres import pg_uow_factory
from portico_tenancy.app.ports import UnitOfWorkFactory
from portico_tenancy.entrypoints.grpc_api import TenancyServicer
from portico_tenancy.entrypoints.grpc_keys import TenantKeysServicer
from portico_tenancy.settings import TenancySettings

SERVICE = "tenancy"
MIGRATIONS = "portico_tenancy.migrations"

TENANCY_SERVICE = tenancy_pb2.DESCRIPTOR.services_by_name["TenancyService"]
KEYS_SERVICE = keys_pb2.DESCRIPTOR.services_by_name["TenantKeysService"]


@dataclass(frozen=True)
class Dependencies:
    """What the outside world provides; unit tests pass in-memory ones."""

    uow: UnitOfWorkFactory
    clock: Clock
    # The KMS that wraps tenants' data keys; None: the data-key RPCs refuse.
    kek: KeyEncryptionKey | None = None


@dataclass(frozen=True)
class Components:
    """What `serve` runs for tenancy: the APIs (no consumers or jobs yet)."""

    servicers: list[Servicer]
    subscriptions: list[Subscription]
    background: list[Background]


def build(deps: Dependencies) -> Components:
    """Wires the entrypoints to the use cases; no I/O."""
    servicer = TenancyServicer(deps.uow)
    return Components(
        servicers=[
            Servicer(
                TENANCY_SERVICE, tenancy_pb2_grpc.add_TenancyServiceServicer_to_server, servicer
            ),
            Servicer(
                KEYS_SERVICE,
                keys_pb2_grpc.add_TenantKeysServiceServicer_to_server,
                TenantKeysServicer(deps.uow, deps.kek),
            ),
        ],
        subscriptions=[],
        background=[],
    )


def dependencies(rt: Runtime, kek: KeyEncryptionKey | None = None) -> Dependencies:
    """The real dependencies: PostgreSQL units of work on the runtime's database."""
    return Dependencies(uow=pg_uow_factory(rt.db, rt.clock), clock=rt.clock, kek=kek)


async def key_encryption_key(settings: TenancySettings) -> KeyEncryptionKey | None:
    """The KMS the settings name (its transit key made sure of), or None."""
    if settings.tenancy_kms == "local":
        if settings.tenancy_kms_key_file:
            return LocalKms(Path(settings.tenancy_kms_key_file))
        if not settings.tenancy_kms_key.get_secret_value():
            raise LocalKeyFileError(
                "PORTICO_TENANCY_KMS=local needs PORTICO_TENANCY_KMS_KEY_FILE or"
                " PORTICO_TENANCY_KMS_KEY"
            )
        return LocalKms.from_setting(settings.tenancy_kms_key.get_secret_value())
    if settings.tenancy_kms == "vault-transit":
        vault = VaultTransitKms(
            settings.tenancy_kms_vault_url,
            settings.tenancy_kms_vault_token.get_secret_value(),
            key_name=settings.tenancy_kms_vault_key,
            mount_point=settings.tenancy_kms_vault_mount,
        )
        await vault.ensure_key()
        return vault
    return None


async def run(
    settings: TenancySettings,
    *,
    clock: Clock | None = None,
    ready: Callable[[int], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Runs the service until SIGTERM/SIGINT, or until `stop` is set.

    `clock`, `ready` (called with the bound gRPC port) and `stop` let tests
    run the real thing in-process.
    """
    kek = await key_encryption_key(settings)
    rt = await Runtime.start(SERVICE, settings, MIGRATIONS, clock=clock)
    parts = build(dependencies(rt, kek))
    await serve(
        rt,
        servicers=parts.servicers,
        subscriptions=parts.subscriptions,
        background=parts.background,
        ready=ready,
        stop=stop,
    )


def main() -> None:
    settings = TenancySettings()
    bootstrap_process(SERVICE, settings)
    asyncio.run(run(settings))
