"""The ClusterApplier the settings choose: none, a cluster's API server, or a GitOps repository."""

from __future__ import annotations

from portico_common.errors import ConfigurationError
from portico_tenancy.adapters.cluster import ServerSideApplier
from portico_tenancy.adapters.gitops import GitOpsApplier
from portico_tenancy.app.job_ports import ClusterApplier
from portico_tenancy.settings import TenancySettings


def applier_for(settings: TenancySettings) -> ClusterApplier | None:
    """The adapter `settings.provisioning` names; None when nothing is provisioned."""
    match settings.provisioning:
        case "none":
            return None
        case "cluster":
            if settings.k8s_api_server:
                return ServerSideApplier.for_server(
                    settings.k8s_api_server,
                    field_manager=settings.k8s_field_manager,
                    token=settings.k8s_token.get_secret_value(),
                    dry_run=settings.k8s_dry_run,
                )
            return ServerSideApplier(
                None, field_manager=settings.k8s_field_manager, dry_run=settings.k8s_dry_run
            )
        case "gitops":
            if not settings.gitops_repository:
                raise ConfigurationError(
                    "PORTICO_PROVISIONING=gitops needs PORTICO_GITOPS_REPOSITORY (a URL or path"
                    " git can clone and push to)"
                )
            return GitOpsApplier(
                settings.gitops_repository, branch=settings.gitops_branch, path=settings.gitops_path
            )
