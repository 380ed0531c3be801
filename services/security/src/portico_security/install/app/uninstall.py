"""Uninstall: the tenant removes an installed plugin, and its quota is given back.

Every approved install request of the plugin becomes uninstalled, each with
an audit record and a `plugin.install.uninstalled` event in the same
transaction; tenancy releases the request's reservation from that event
(its inbox makes a redelivery harmless). Uninstalling a plugin already
uninstalled changes nothing and announces nothing; a plugin never installed
is NOT_FOUND.
"""

from __future__ import annotations

from portico_common.npm import require_package_name
from portico_common.tenants import require_tenant_id
from portico_security.install.app.audit import record
from portico_security.install.app.ports import InstallUowFactory
from portico_security.install.app.validation import check_text
from portico_security.install.domain.events import InstallUninstalled
from portico_security.install.domain.requests import InstallRequest, InstallStatus
from portico_security.install.errors import PluginNotInstalledError


async def uninstall(
    uow: InstallUowFactory, tenant_id: str, plugin: str, *, actor: str, reason: str
) -> list[InstallRequest]:
    """Uninstalls the plugin's approved requests; answers the plugin's uninstalled requests."""
    require_tenant_id(tenant_id)
    require_package_name(plugin, "plugin")
    check_text("requested_by", actor, required=True)
    check_text("reason", reason)
    why = reason or "uninstalled"
    async with uow(tenant_id) as tx:
        approved = await tx.install_requests.of_plugin(
            tenant_id, plugin, (InstallStatus.APPROVED,), lock=True
        )
        now = tx.clock.now()
        for request in approved:
            gone = request.uninstalled(actor, why, now)
            await tx.install_requests.save(gone)
            await tx.publish(
                [
                    InstallUninstalled(
                        tenant_id=tenant_id,
                        request_id=gone.request_id,
                        plugin=gone.plugin,
                        version=gone.version,
                        uninstalled_by=actor,
                        reason=why,
                    )
                ]
            )
            await record(
                tx,
                tenant_id,
                actor=actor,
                action="install.uninstalled",
                subject=gone.subject,
                reason=why,
                evidence_digest=gone.evidence_digest,
            )
        uninstalled = await tx.install_requests.of_plugin(
            tenant_id, plugin, (InstallStatus.UNINSTALLED,)
        )
    if not uninstalled:
        raise PluginNotInstalledError(tenant_id, plugin)
    return uninstalled
