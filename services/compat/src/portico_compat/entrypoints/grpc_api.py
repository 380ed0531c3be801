"""gRPC entrypoint of compat: map the request, call the use case, map back."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from portico.compat.v1 import compat_pb2 as pb
from portico.compat.v1 import compat_pb2_grpc as pb_grpc
from portico_common.grpc.interceptor import Context
from portico_compat.app import handlers
from portico_compat.app.ports import ReleaseManifestSource, UnitOfWorkFactory
from portico_compat.domain.apis import ApiProvision, ApiRequirement, HostApi, HostApiCatalog
from portico_compat.domain.checks import CompatCheck
from portico_compat.domain.compatibility import DimensionReport, Finding, HostProfile
from portico_compat.domain.installs import DEFAULT_SINGLETONS
from portico_compat.domain.permissions import Decision, PermissionPolicy, PermissionRule
from portico_compat.domain.plugins import PluginRequirements
from portico_compat.domain.releases import ReleaseManifest, parse_published_manifest
from portico_compat.domain.report import Verdict
from portico_compat.domain.resources import Resources
from portico_compat.errors import InvalidPermissionPolicyError, InvalidReleaseManifestError

log = logging.getLogger(__name__)

_VERDICTS = {
    Verdict.PASS: pb.VERDICT_PASS,
    Verdict.WARN: pb.VERDICT_WARN,
    Verdict.NEEDS_APPROVAL: pb.VERDICT_NEEDS_APPROVAL,
    Verdict.FAIL: pb.VERDICT_FAIL,
}
_DECISIONS = {
    pb.PERMISSION_DECISION_ALLOW: Decision.ALLOW,
    pb.PERMISSION_DECISION_DENY: Decision.DENY,
    pb.PERMISSION_DECISION_NEEDS_APPROVAL: Decision.NEEDS_APPROVAL,
}
_DECISIONS_PB = {decision: value for value, decision in _DECISIONS.items()}


def profile_to_proto(profile: HostProfile) -> pb.HostProfile:
    return pb.HostProfile(
        tenant_id=profile.tenant_id,
        backstage_version=profile.backstage_version,
        node_version=profile.node_version,
        packages=dict(profile.packages),
    )


def plugin_from_proto(request: pb.CheckCompatibilityRequest) -> PluginRequirements:
    """The plugin manifest of a request; raises InvalidPluginError when it is malformed."""
    return PluginRequirements(
        request.plugin,
        request.version,
        dict(request.engines),
        dict(request.peer_dependencies),
        dependencies=dict(request.dependencies),
        consumes=tuple(ApiRequirement(c.name, c.range) for c in request.consumes),
        provides=tuple(ApiProvision(p.name, p.version) for p in request.provides),
        permissions=tuple(request.permissions),
        installed_version=request.installed_version,
        resources=(
            Resources(
                request.resources.cpu_millicores,
                request.resources.memory_mib,
                request.resources.storage_mib,
            )
            if request.HasField("resources")
            else None
        ),
    )


def finding_to_proto(finding: Finding) -> pb.Finding:
    return pb.Finding(
        dimension=str(finding.dimension),
        name=finding.name,
        required_range=finding.required_range,
        host_version=finding.host_version,
        satisfied=finding.satisfied,
        reason=finding.reason,
        verdict=_VERDICTS[finding.outcome],
    )


def dimension_to_proto(report: DimensionReport) -> pb.DimensionReport:
    return pb.DimensionReport(
        dimension=str(report.dimension),
        verdict=_VERDICTS[report.verdict],
        summary=report.summary,
        findings=[finding_to_proto(f) for f in report.findings],
    )


def check_to_proto(check: CompatCheck) -> pb.CheckCompatibilityResponse:
    return pb.CheckCompatibilityResponse(
        check_id=check.check_id,
        compatible=check.compatible,
        findings=[finding_to_proto(f) for f in check.report.findings],
        dimensions=[dimension_to_proto(d) for d in check.report.dimensions],
        approval_required=check.report.approval_required,
    )


def catalog_to_proto(catalog: HostApiCatalog) -> pb.HostApiCatalog:
    return pb.HostApiCatalog(
        tenant_id=catalog.tenant_id,
        backstage_release=catalog.backstage_release,
        apis=[
            pb.HostApi(
                name=a.name,
                version=a.version,
                deprecation=a.deprecation,
                removed=a.removed,
                replacement=a.replacement,
            )
            for a in catalog.apis.values()
        ],
    )


def manifest_to_proto(manifest: ReleaseManifest) -> pb.ReleaseManifest:
    return pb.ReleaseManifest(
        tenant_id=manifest.tenant_id,
        backstage_release=manifest.backstage_release,
        packages=dict(manifest.packages),
    )


def policy_from_proto(request: pb.SetPermissionPolicyRequest) -> PermissionPolicy:
    rules = []
    for rule in request.rules:
        decision = _DECISIONS.get(rule.decision)
        if decision is None:
            raise InvalidPermissionPolicyError("rules", f"{rule.pattern[:80]!r} has no decision")
        rules.append(PermissionRule(rule.pattern, decision))
    # An unset default is the safe one: nothing is allowed by omission.
    default = _DECISIONS.get(request.default_decision, Decision.NEEDS_APPROVAL)
    return PermissionPolicy(request.tenant_id, tuple(rules), default)


def policy_to_proto(policy: PermissionPolicy) -> pb.PermissionPolicy:
    return pb.PermissionPolicy(
        tenant_id=policy.tenant_id,
        rules=[
            pb.PermissionRule(pattern=r.pattern, decision=_DECISIONS_PB[r.decision])
            for r in policy.rules
        ],
        default_decision=_DECISIONS_PB[policy.default],
    )


class CompatServicer(pb_grpc.CompatServiceServicer):
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        manifests: ReleaseManifestSource | None = None,
        singletons: frozenset[str] = DEFAULT_SINGLETONS,
    ) -> None:
        self._uow = uow
        self._manifests = manifests
        self._singletons = singletons

    async def SetHostProfile(
        self, request: pb.SetHostProfileRequest, context: Context
    ) -> pb.SetHostProfileResponse:
        profile = await handlers.set_host_profile(
            self._uow,
            request.tenant_id,
            request.backstage_version,
            request.node_version,
            dict(request.packages),
            manifests=self._manifests,
        )
        return pb.SetHostProfileResponse(profile=profile_to_proto(profile))

    async def CheckCompatibility(
        self, request: pb.CheckCompatibilityRequest, context: Context
    ) -> pb.CheckCompatibilityResponse:
        check = await handlers.check_compatibility(
            self._uow, request.tenant_id, plugin_from_proto(request), singletons=self._singletons
        )
        return check_to_proto(check)

    async def CheckCompatibilityStream(
        self, request: pb.CheckCompatibilityStreamRequest, context: Context
    ) -> AsyncIterator[pb.CheckCompatibilityStreamResponse]:
        # The kernel interceptor checks the token, tenant and permission of the
        # stream, maps errors to statuses and counts the call.
        tenant_id = request.check.tenant_id
        plugin = plugin_from_proto(request.check)
        stream = handlers.stream_check(self._uow, tenant_id, plugin, singletons=self._singletons)
        async for item in stream:
            if isinstance(item, CompatCheck):
                yield pb.CheckCompatibilityStreamResponse(report=check_to_proto(item))
            else:
                yield pb.CheckCompatibilityStreamResponse(dimension=dimension_to_proto(item))

    async def SetHostApiCatalog(
        self, request: pb.SetHostApiCatalogRequest, context: Context
    ) -> pb.SetHostApiCatalogResponse:
        apis = [
            HostApi(a.name, a.version, a.deprecation, a.removed, a.replacement)
            for a in request.apis
        ]
        catalog = HostApiCatalog.of(request.tenant_id, request.backstage_release, apis)
        saved = await handlers.set_host_api_catalog(self._uow, catalog)
        return pb.SetHostApiCatalogResponse(catalog=catalog_to_proto(saved))

    async def SetReleaseManifest(
        self, request: pb.SetReleaseManifestRequest, context: Context
    ) -> pb.SetReleaseManifestResponse:
        if request.published_manifest and request.packages:
            raise InvalidReleaseManifestError(
                "packages", "give either packages or published_manifest, not both"
            )
        if not (request.published_manifest or request.packages) and self._manifests is not None:
            # Neither given: the release's published manifest, from the configured source.
            fetched = await handlers.fetch_release_manifest(
                self._uow, self._manifests, request.tenant_id, request.backstage_release
            )
            return pb.SetReleaseManifestResponse(manifest=manifest_to_proto(fetched))
        manifest = (
            parse_published_manifest(
                request.tenant_id, request.backstage_release, request.published_manifest
            )
            if request.published_manifest
            else ReleaseManifest(
                request.tenant_id, request.backstage_release, dict(request.packages)
            )
        )
        saved = await handlers.set_release_manifest(self._uow, manifest)
        return pb.SetReleaseManifestResponse(manifest=manifest_to_proto(saved))

    async def GetDeclaredResources(
        self, request: pb.GetDeclaredResourcesRequest, context: Context
    ) -> pb.GetDeclaredResourcesResponse:
        resources, check_id = await handlers.declared_resources(
            self._uow, request.tenant_id, request.plugin, request.version
        )
        if resources is None:
            return pb.GetDeclaredResourcesResponse(declared=False, check_id=check_id)
        return pb.GetDeclaredResourcesResponse(
            declared=True,
            resources=pb.ResourceRequest(
                cpu_millicores=resources.cpu_millicores,
                memory_mib=resources.memory_mib,
                storage_mib=resources.storage_mib,
            ),
            check_id=check_id,
        )

    async def SetPermissionPolicy(
        self, request: pb.SetPermissionPolicyRequest, context: Context
    ) -> pb.SetPermissionPolicyResponse:
        saved = await handlers.set_permission_policy(self._uow, policy_from_proto(request))
        return pb.SetPermissionPolicyResponse(policy=policy_to_proto(saved))
