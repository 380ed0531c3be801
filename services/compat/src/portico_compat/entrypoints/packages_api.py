"""gRPC entrypoint of PackageService: map the request, call the use case, map back."""
# gRPC fixes the servicer method names and their (request, context) signature.
# ruff: noqa: N802, ARG002

from __future__ import annotations

from portico.compat.v1 import packages_pb2 as pb
from portico.compat.v1 import packages_pb2_grpc as pb_grpc
from portico_common.grpc.interceptor import Context
from portico_compat.app.packages import PackageChecks, PackageInput
from portico_compat.domain.fit import ReleaseFit, VersionFit
from portico_compat.domain.plugins import PluginRequirements
from portico_compat.entrypoints.grpc_api import check_to_proto, dimension_to_proto


def input_from_proto(given: pb.PackageInput) -> PackageInput:
    return PackageInput(package_json=given.package_json, tarball=given.tarball, spec=given.spec)


def summary_to_proto(plugin: PluginRequirements, source: str) -> pb.PackageSummary:
    backstage = None
    if plugin.backstage is not None:
        backstage = pb.BackstageMetadata(
            role=plugin.backstage.role,
            plugin_id=plugin.backstage.plugin_id,
            plugin_packages=plugin.backstage.plugin_packages,
        )
    return pb.PackageSummary(
        name=plugin.plugin,
        version=plugin.version,
        engines=dict(plugin.engines),
        peer_dependencies=dict(plugin.peer_dependencies),
        optional_peers=plugin.optional_peers,
        dependencies=dict(plugin.dependencies),
        backstage=backstage,
        source=source,
    )


def release_fit_to_proto(fit: ReleaseFit) -> pb.ReleaseFit:
    return pb.ReleaseFit(
        backstage_release=fit.release, fits=fit.fits, runtime=dimension_to_proto(fit.runtime)
    )


def version_fit_to_proto(fit: VersionFit) -> pb.VersionFit:
    return pb.VersionFit(
        version=fit.version,
        fits=fit.fits,
        runtime=dimension_to_proto(fit.runtime) if fit.runtime is not None else None,
        unreadable=fit.unreadable,
    )


class PackageServicer(pb_grpc.PackageServiceServicer):
    def __init__(self, checks: PackageChecks) -> None:
        self._checks = checks

    async def CheckPackage(
        self, request: pb.CheckPackageRequest, context: Context
    ) -> pb.CheckPackageResponse:
        given = input_from_proto(request.package)
        plugin, check = await self._checks.check(
            request.tenant_id, given, installed_version=request.installed_version
        )
        return pb.CheckPackageResponse(
            package=summary_to_proto(plugin, given.source), report=check_to_proto(check)
        )

    async def FindRequiredRelease(
        self, request: pb.FindRequiredReleaseRequest, context: Context
    ) -> pb.FindRequiredReleaseResponse:
        given = input_from_proto(request.package)
        plugin, answer = await self._checks.required_release(request.tenant_id, given)
        earliest = answer.earliest
        return pb.FindRequiredReleaseResponse(
            package=summary_to_proto(plugin, given.source),
            current=release_fit_to_proto(answer.current),
            found=earliest is not None,
            release=earliest.release if earliest is not None else "",
            releases=[release_fit_to_proto(fit) for fit in answer.releases],
        )

    async def FindFittingVersion(
        self, request: pb.FindFittingVersionRequest, context: Context
    ) -> pb.FindFittingVersionResponse:
        release, answer = await self._checks.newest_fitting(request.tenant_id, request.plugin)
        found = answer.found
        return pb.FindFittingVersionResponse(
            plugin=request.plugin,
            backstage_release=release,
            found=found is not None,
            version=found.version if found is not None else "",
            tried=[version_fit_to_proto(fit) for fit in answer.tried],
        )
