"""The one place that wires security's dependencies; nothing connects at import.

`build` is pure wiring: it takes what the outside world provides
(`Dependencies`: units of work, clock, verifiers, sources) and returns what
`serve` runs (`Components`). `run` builds the real dependencies on a started
Runtime; unit tests call `build` with in-memory adapters and fakes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from portico.security.v1 import (
    install_pb2,
    install_pb2_grpc,
    keys_pb2,
    keys_pb2_grpc,
    provenance_pb2,
    provenance_pb2_grpc,
    security_pb2,
    security_pb2_grpc,
    trust_pb2,
    trust_pb2_grpc,
)
from portico_common.clock import Clock
from portico_common.crypto.keyring import FieldCipher
from portico_common.crypto.tenancy_client import tenancy_data_keys
from portico_common.events.consumer import Subscription
from portico_common.grpc.registration import Servicer
from portico_common.places import PlaceLister
from portico_common.runtime import Background, Runtime, bootstrap_process, serve
from portico_common.uow import uow_factory
from portico_security.install.adapters.compat_resources import compat_declared_resources
from portico_security.install.adapters.postgres import InstallPgUnitOfWork
from portico_security.install.adapters.tenancy_quotas import tenancy_quota_gate
from portico_security.install.adapters.trust import FiveFactorTrustScorer, OsvAdvisoryMatcher
from portico_security.install.adapters.verification import VerificationService
from portico_security.install.app.ports import (
    DeclaredResourcesSource,
    InstallUowFactory,
    QuotaGate,
)
from portico_security.install.entrypoints.grpc_api import InstallServicer
from portico_security.install.entrypoints.scheduler import make_approval_scheduler
from portico_security.sensitive import SECURITY_SENSITIVE_FIELDS
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
from portico_security.trust.app.ports import AdvisorySource, PackageSignalsSource, TrustUowFactory
from portico_security.trust.entrypoints.grpc_api import AdvisoryServicer, TrustServicer
from portico_security.verification.adapters.postgres import VerificationPgUnitOfWork
from portico_security.verification.adapters.sigstore_node import NodeSigstoreVerifier
from portico_security.verification.adapters.sigstore_trust import load_trust_config
from portico_security.verification.app.ports import (
    ProvenanceVerification,
    VerificationUowFactory,
)
from portico_security.verification.domain.registry_signatures import (
    RegistryKeys,
    parse_registry_keys,
)
from portico_security.verification.entrypoints.grpc_keys import PublisherKeyServicer
from portico_security.verification.entrypoints.grpc_provenance import ProvenanceServicer
from portico_security.verification.entrypoints.grpc_security import SecurityServicer

SERVICE = "security"
# Verification hashes, checks signatures and runs the provenance verifier: a
# tenant runs a few at a time.
HEAVY_METHODS = (
    "/portico.security.v1.SecurityService/VerifyArtifact",
    "/portico.security.v1.InstallService/InstallSecure",
    "/portico.security.v1.ProvenanceService/VerifyProvenance",
    "/portico.security.v1.ProvenanceService/VerifyBundle",
)
MIGRATIONS = "portico_security.migrations"
# Room for the rest of a VerifyArtifact request (names, integrity, signature,
# key id: each bounded far below this) next to a tarball of the maximum size.
REQUEST_OVERHEAD_BYTES = 64 * 1024


@dataclass(frozen=True, kw_only=True)
class Dependencies:
    """What the outside world provides; fakes and in-memory adapters in unit tests."""

    verification_uow: VerificationUowFactory
    trust_uow: TrustUowFactory
    install_uow: InstallUowFactory
    clock: Clock
    # The largest tarball VerifyArtifact and InstallSecure accept.
    max_artifact_bytes: int
    # Registry signals for the trust score (NoSignals: every package is unknown).
    signals: PackageSignalsSource = field(default_factory=NoSignals)
    # ImportAdvisories from_configured_sources reads these.
    advisory_sources: Sequence[AdvisorySource] = ()
    # npm's registry keys; None: a registry signature is rejected as unverifiable.
    registry_keys: RegistryKeys | None = None
    # None: ProvenanceService is not served and attestations are judged unverifiable.
    provenance: ProvenanceVerification | None = None
    # How often pending install approvals are checked against their deadlines.
    approval_tick_seconds: float = 1.0
    # Room in the tenant's quota, reserved at tenancy before each install; None: no quota.
    quota: QuotaGate | None = None
    # What a version declared it needs (compat), held with its plugin; None: plugin only.
    declared_resources: DeclaredResourcesSource | None = None
    # Every place of security's rows the approval sweep passes over (the shared
    # tables, bridge schemas, silo databases); None: one place.
    places: PlaceLister | None = None


@dataclass(frozen=True)
class Components:
    """What `serve` runs for security."""

    servicers: list[Servicer]
    subscriptions: list[Subscription]
    background: list[Background]

    def implementation(self, service: str) -> object:
        """The servicer behind `service` (its short name, e.g. "InstallService")."""
        for servicer in self.servicers:
            if servicer.descriptor.name == service:
                return servicer.implementation
        raise KeyError(f"no servicer for {service!r}")


def build(deps: Dependencies) -> Components:
    """Wires the three contexts' servicers and the approval deadline job; no I/O."""
    servicers = [
        Servicer(
            security_pb2.DESCRIPTOR.services_by_name["SecurityService"],
            security_pb2_grpc.add_SecurityServiceServicer_to_server,
            SecurityServicer(
                deps.verification_uow,
                max_artifact_bytes=deps.max_artifact_bytes,
                registry_keys=deps.registry_keys,
                provenance=deps.provenance,
            ),
        ),
    ]
    if deps.provenance is not None:
        servicers.append(
            Servicer(
                provenance_pb2.DESCRIPTOR.services_by_name["ProvenanceService"],
                provenance_pb2_grpc.add_ProvenanceServiceServicer_to_server,
                ProvenanceServicer(deps.provenance),
            )
        )
    install = InstallServicer(
        deps.install_uow,
        verifier=VerificationService(
            deps.verification_uow,
            max_artifact_bytes=deps.max_artifact_bytes,
            registry_keys=deps.registry_keys,
            provenance=deps.provenance,
        ),
        trust=FiveFactorTrustScorer(deps.trust_uow, deps.signals),
        advisories=OsvAdvisoryMatcher(deps.trust_uow),
        quota=deps.quota,
        resources=deps.declared_resources,
    )
    servicers += [
        Servicer(
            keys_pb2.DESCRIPTOR.services_by_name["PublisherKeyService"],
            keys_pb2_grpc.add_PublisherKeyServiceServicer_to_server,
            PublisherKeyServicer(deps.verification_uow),
        ),
        Servicer(
            trust_pb2.DESCRIPTOR.services_by_name["AdvisoryService"],
            trust_pb2_grpc.add_AdvisoryServiceServicer_to_server,
            AdvisoryServicer(deps.trust_uow, deps.advisory_sources),
        ),
        Servicer(
            trust_pb2.DESCRIPTOR.services_by_name["TrustService"],
            trust_pb2_grpc.add_TrustServiceServicer_to_server,
            TrustServicer(deps.trust_uow, deps.signals),
        ),
        Servicer(
            install_pb2.DESCRIPTOR.services_by_name["InstallService"],
            install_pb2_grpc.add_InstallServiceServicer_to_server,
            install,
        ),
    ]
    approvals = make_approval_scheduler(
        deps.install_uow, deps.clock, tick_seconds=deps.approval_tick_seconds, places=deps.places
    )
    return Components(servicers=servicers, subscriptions=[], background=[approvals])


def max_message_bytes(settings: SecuritySettings) -> int:
    """The gRPC message limit: a largest-allowed tarball plus the rest of its request.

    A tarball a little over max_artifact_bytes still arrives and is REJECTED by
    the size check (recorded, announced); one far over it is refused by gRPC
    with RESOURCE_EXHAUSTED and never reaches the use case.
    """
    return settings.max_artifact_bytes + REQUEST_OVERHEAD_BYTES


def load_registry_keys(settings: SecuritySettings) -> RegistryKeys | None:
    """The configured npm registry keys; a missing or malformed file stops the start-up."""
    if settings.npm_registry_keys_file is None:
        return None
    return parse_registry_keys(settings.npm_registry_keys_file.read_bytes())


def provenance_verification(settings: SecuritySettings) -> ProvenanceVerification:
    """npm's attestations need @sigstore/verify (see adapters/sigstore_node.py); the publish
    attestation is signed by the npm registry keys."""
    return ProvenanceVerification(
        NodeSigstoreVerifier(
            timeout=settings.provenance_verifier_timeout_seconds,
            max_processes=settings.provenance_verifier_max_processes,
        ),
        load_trust_config(
            settings.provenance_trusted_root,
            settings.provenance_npm_keys or settings.npm_registry_keys_file,
        ),
    )


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


def field_cipher(rt: Runtime, settings: SecuritySettings) -> FieldCipher | None:
    """security's sensitive fields sealed with tenants' data keys from tenancy, if it is set."""
    if not settings.tenancy_target:
        return None
    keys = tenancy_data_keys(
        settings.tenancy_target,
        rt.service_tokens,
        cache_seconds=settings.data_key_cache_seconds,
        tls=rt.grpc_tls,
    )
    return FieldCipher(SECURITY_SENSITIVE_FIELDS, keys)


async def run(
    settings: SecuritySettings,
    *,
    clock: Clock | None = None,
    ready: Callable[[int], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Runs the service until SIGTERM/SIGINT, or until `stop` is set.

    Configuration files are read before anything connects, so a bad one stops
    the start-up at once. `clock`, `ready` (called with the bound gRPC port)
    and `stop` let tests run the real thing in-process.
    """
    registry_keys = load_registry_keys(settings)
    provenance = provenance_verification(settings)
    rt = await Runtime.start(SERVICE, settings, MIGRATIONS, clock=clock)
    cipher = field_cipher(rt, settings)
    parts = build(
        Dependencies(
            verification_uow=uow_factory(
                rt.db,
                lambda conn, tenant: VerificationPgUnitOfWork(
                    conn, tenant_id=tenant, clock=rt.clock
                ),
            ),
            trust_uow=uow_factory(
                rt.db,
                lambda conn, tenant: TrustPgUnitOfWork(
                    conn, tenant_id=tenant, clock=rt.clock, shared=rt.db
                ),
            ),
            install_uow=uow_factory(
                rt.db,
                lambda conn, tenant: InstallPgUnitOfWork(
                    conn, tenant_id=tenant, clock=rt.clock, cipher=cipher
                ),
            ),
            clock=rt.clock,
            max_artifact_bytes=settings.max_artifact_bytes,
            signals=signals_source(settings),
            advisory_sources=advisory_sources(settings),
            registry_keys=registry_keys,
            provenance=provenance,
            approval_tick_seconds=settings.install_approval_tick_seconds,
            quota=(
                tenancy_quota_gate(settings.tenancy_target, rt.service_tokens, rt.grpc_tls)
                if settings.tenancy_target
                else None
            ),
            declared_resources=(
                compat_declared_resources(
                    settings.security_compat_target,
                    rt.service_tokens,
                    rt.grpc_tls,
                    timeout_seconds=settings.security_compat_timeout_seconds,
                )
                if settings.security_compat_target
                else None
            ),
            places=rt.db.places,
        )
    )
    await serve(
        rt,
        servicers=parts.servicers,
        subscriptions=parts.subscriptions,
        background=parts.background,
        ready=ready,
        stop=stop,
        max_message_bytes=max_message_bytes(settings),
        heavy_methods=HEAVY_METHODS,
        # The approvals audit is append-only evidence: a tenant's deletion keeps it
        # (its rows refuse DELETE; crypto-shredding is what makes them unreadable).
        retained_tables=("audit_records",),
    )


def main() -> None:
    settings = SecuritySettings()
    bootstrap_process(SERVICE, settings)
    asyncio.run(run(settings))
