"""The one place that wires security's dependencies; nothing connects at import."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from pathlib import Path

import grpc

from portico.security.v1 import (
    keys_pb2,
    keys_pb2_grpc,
    provenance_pb2,
    provenance_pb2_grpc,
    security_pb2,
    security_pb2_grpc,
    trust_pb2,
    trust_pb2_grpc,
)
from portico_common.runtime import Runtime, bootstrap_process, serve
from portico_common.uow import uow_factory
from portico_security.install.entrypoints.grpc_api import install_service
from portico_security.settings import SecuritySettings
from portico_security.trust.adapters.advisory_sources import (
    DirectoryAdvisorySource,
    HttpAdvisorySource,
)
from portico_security.trust.adapters.postgres import TrustPgUnitOfWork
from portico_security.trust.adapters.registry_signals import (
    FileSignalsSource,
    HttpSignalsSource,
    NoSignals,
)
from portico_security.trust.app.advisories import AdvisorySource
from portico_security.trust.app.scoring import PackageSignalsSource
from portico_security.trust.entrypoints.grpc_api import AdvisoryServicer, TrustServicer
from portico_security.verification.adapters.postgres import SecurityPgUnitOfWork
from portico_security.verification.adapters.sigstore_node import NodeSigstoreVerifier
from portico_security.verification.adapters.sigstore_trust import load_trust_config
from portico_security.verification.app.ports import UnitOfWorkFactory
from portico_security.verification.app.provenance import ProvenanceVerification
from portico_security.verification.domain.registry_signatures import (
    RegistryKeys,
    parse_registry_keys,
)
from portico_security.verification.entrypoints.grpc_api import SecurityServicer
from portico_security.verification.entrypoints.grpc_keys import PublisherKeyServicer
from portico_security.verification.entrypoints.grpc_provenance import ProvenanceServicer

SERVICE = "security"
# Room for the rest of a VerifyArtifact request (names, integrity, signature,
# key id: each bounded far below this) next to a tarball of the maximum size.
REQUEST_OVERHEAD_BYTES = 64 * 1024


def max_message_bytes(settings: SecuritySettings) -> int:
    """The gRPC message limit: a largest-allowed tarball plus the rest of its request.

    A tarball a little over max_artifact_bytes still arrives and is REJECTED by
    the size check (recorded, announced); one far over it is refused by gRPC
    with RESOURCE_EXHAUSTED and never reaches the use case.
    """
    return settings.max_artifact_bytes + REQUEST_OVERHEAD_BYTES


def build_uow(rt: Runtime) -> UnitOfWorkFactory:
    return uow_factory(
        rt.db, lambda conn, tenant: SecurityPgUnitOfWork(conn, tenant_id=tenant, clock=rt.clock)
    )


def load_registry_keys(settings: SecuritySettings) -> RegistryKeys | None:
    """The configured npm registry keys; a missing or malformed file stops the start-up."""
    if settings.npm_registry_keys_file is None:
        return None
    return parse_registry_keys(settings.npm_registry_keys_file.read_bytes())


def advisory_sources(settings: SecuritySettings) -> list[AdvisorySource]:
    """The configured OSV directory and feed (ImportAdvisories from_configured_sources)."""
    sources: list[AdvisorySource] = []
    if settings.advisory_dir:
        sources.append(DirectoryAdvisorySource(Path(settings.advisory_dir)))
    if settings.advisory_feed_url:
        sources.append(HttpAdvisorySource(settings.advisory_feed_url))
    return sources


def signals_source(settings: SecuritySettings) -> PackageSignalsSource:
    """Registry signals for the trust score: the HTTP endpoint, else the file, else none."""
    if settings.registry_signals_url:
        return HttpSignalsSource(settings.registry_signals_url)
    if settings.registry_signals_file:
        return FileSignalsSource(Path(settings.registry_signals_file))
    return NoSignals()


def trust_registration(
    rt: Runtime, settings: SecuritySettings
) -> Callable[[grpc.aio.Server], Iterable[str]]:
    """Registers AdvisoryService and TrustService (trust.proto) on a server."""
    uow = uow_factory(
        rt.db, lambda conn, tenant: TrustPgUnitOfWork(conn, tenant_id=tenant, clock=rt.clock)
    )
    advisory = AdvisoryServicer(uow, advisory_sources(settings))
    trust = TrustServicer(uow, signals_source(settings))

    def register(server: grpc.aio.Server) -> Iterable[str]:
        trust_pb2_grpc.add_AdvisoryServiceServicer_to_server(advisory, server)
        trust_pb2_grpc.add_TrustServiceServicer_to_server(trust, server)
        return [
            trust_pb2.DESCRIPTOR.services_by_name["AdvisoryService"].full_name,
            trust_pb2.DESCRIPTOR.services_by_name["TrustService"].full_name,
        ]

    return register


async def run(settings: SecuritySettings) -> None:
    registry_keys = load_registry_keys(settings)
    rt = await Runtime.start(SERVICE, settings, "portico_security.migrations")
    # npm's attestations need @sigstore/verify (see adapters/sigstore_node.py);
    # the publish attestation is signed by the npm registry keys.
    provenance_verification = ProvenanceVerification(
        NodeSigstoreVerifier(timeout=settings.provenance_verifier_timeout_seconds),
        load_trust_config(
            settings.provenance_trusted_root,
            settings.provenance_npm_keys or settings.npm_registry_keys_file,
        ),
    )
    servicer = SecurityServicer(
        build_uow(rt),
        max_artifact_bytes=settings.max_artifact_bytes,
        registry_keys=registry_keys,
        provenance=provenance_verification,
    )
    key_servicer = PublisherKeyServicer(build_uow(rt))
    provenance = ProvenanceServicer(provenance_verification)

    def register(server: grpc.aio.Server) -> Iterable[str]:
        security_pb2_grpc.add_SecurityServiceServicer_to_server(servicer, server)
        provenance_pb2_grpc.add_ProvenanceServiceServicer_to_server(provenance, server)
        keys_pb2_grpc.add_PublisherKeyServiceServicer_to_server(key_servicer, server)
        return [
            security_pb2.DESCRIPTOR.services_by_name["SecurityService"].full_name,
            provenance_pb2.DESCRIPTOR.services_by_name["ProvenanceService"].full_name,
            keys_pb2.DESCRIPTOR.services_by_name["PublisherKeyService"].full_name,
        ]

    register_trust = trust_registration(rt, settings)
    register_install, approval_deadlines = install_service(
        rt,
        signals=signals_source(settings),
        max_artifact_bytes=settings.max_artifact_bytes,
        registry_keys=registry_keys,
        provenance=provenance_verification,
        tick_seconds=settings.install_approval_tick_seconds,
    )

    def register_all(server: grpc.aio.Server) -> Iterable[str]:
        return [*register(server), *register_trust(server), *register_install(server)]

    await serve(
        rt,
        register=register_all,
        background=[approval_deadlines],
        max_message_bytes=max_message_bytes(settings),
    )


def main() -> None:
    settings = SecuritySettings()
    bootstrap_process(SERVICE, settings)
    asyncio.run(run(settings))
