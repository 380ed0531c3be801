"""gRPC entrypoint of compat: map the request, call the use case, map back."""

from __future__ import annotations

from portico.compat.v1 import compat_pb2 as pb
from portico.compat.v1 import compat_pb2_grpc as pb_grpc
from portico_common.grpc.interceptor import Context
from portico_compat.app import handlers
from portico_compat.app.ports import UnitOfWorkFactory
from portico_compat.domain.checks import CompatCheck
from portico_compat.domain.compatibility import HostProfile
from portico_compat.domain.plugins import PluginRequirements


def profile_to_proto(profile: HostProfile) -> pb.HostProfile:
    return pb.HostProfile(
        tenant_id=profile.tenant_id,
        backstage_version=profile.backstage_version,
        node_version=profile.node_version,
        packages=dict(profile.packages),
    )


def check_to_proto(check: CompatCheck) -> pb.CheckCompatibilityResponse:
    return pb.CheckCompatibilityResponse(
        check_id=check.check_id,
        compatible=check.compatible,
        findings=[
            pb.Finding(
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


class CompatServicer(pb_grpc.CompatServiceServicer):
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def SetHostProfile(
        self, request: pb.SetHostProfileRequest, context: Context
    ) -> pb.SetHostProfileResponse:
        profile = await handlers.set_host_profile(
            self._uow,
            request.tenant_id,
            request.backstage_version,
            request.node_version,
            dict(request.packages),
        )
        return pb.SetHostProfileResponse(profile=profile_to_proto(profile))

    async def CheckCompatibility(
        self, request: pb.CheckCompatibilityRequest, context: Context
    ) -> pb.CheckCompatibilityResponse:
        plugin = PluginRequirements(
            request.plugin,
            request.version,
            dict(request.engines),
            dict(request.peer_dependencies),
        )
        check = await handlers.check_compatibility(self._uow, request.tenant_id, plugin)
        return check_to_proto(check)
