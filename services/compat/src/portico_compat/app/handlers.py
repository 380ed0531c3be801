"""Compat use cases: record a tenant's host, check plugin versions against it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from portico.events.v1 import events_pb2
from portico_compat.app.ports import UnitOfWorkFactory
from portico_compat.domain.checks import CompatCheck, run_check
from portico_compat.domain.compatibility import HostProfile
from portico_compat.domain.plugins import PluginRequirements
from portico_compat.domain.tenants import validate_tenant_id
from portico_compat.errors import UnknownHostProfileError


async def set_host_profile(
    uow: UnitOfWorkFactory,
    tenant_id: str,
    backstage_version: str,
    node_version: str,
    packages: Mapping[str, str],
) -> HostProfile:
    """Validates and stores the tenant's host profile, replacing any previous one."""
    validate_tenant_id(tenant_id)
    profile = HostProfile(tenant_id, backstage_version, node_version, packages)
    async with uow(tenant_id) as tx:
        await tx.host_profiles.save(profile, tx.clock.now())
    return profile


async def check_compatibility(
    uow: UnitOfWorkFactory, tenant_id: str, plugin: PluginRequirements
) -> CompatCheck:
    """Checks a plugin version against the tenant's host, records the verdict and emits it.

    Input is validated before anything is opened, so a malformed request
    changes nothing; an incompatible plugin is recorded and emitted like a
    compatible one, with the findings that say why.
    """
    validate_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        host = await tx.host_profiles.get(tenant_id)
        if host is None:
            raise UnknownHostProfileError(tenant_id)
        check = run_check(str(uuid.uuid4()), host, plugin, tx.clock.now())
        await tx.checks.add(check)
        await tx.emit(compat_checked(check), subject=f"{check.plugin}@{check.version}")
    return check


def compat_checked(check: CompatCheck) -> events_pb2.CompatChecked:
    """The `plugin.compat.checked` event of a recorded check."""
    return events_pb2.CompatChecked(
        tenant_id=check.tenant_id,
        check_id=check.check_id,
        plugin=check.plugin,
        version=check.version,
        compatible=check.compatible,
        findings=[
            events_pb2.CompatFinding(
                dimension=str(f.dimension),
                name=f.name,
                required_range=f.required_range,
                host_version=f.host_version,
                satisfied=f.satisfied,
                reason=f.reason,
            )
            for f in check.report.findings
        ],
    )
