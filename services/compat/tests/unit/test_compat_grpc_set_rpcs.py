"""SetHostApiCatalog, SetReleaseManifest and SetPermissionPolicy on a real grpc.aio server."""

from __future__ import annotations

import json
from typing import Any

import grpc
import pytest

from portico.compat.v1 import compat_pb2 as pb
from portico.compat.v1 import compat_pb2_grpc as pb_grpc
from portico_compat.adapters.memory import CompatMemoryStore


async def test_set_rpcs_answer_what_they_stored(stub: pb_grpc.CompatServiceAsyncStub) -> None:
    """SetHostApiCatalog, SetReleaseManifest and SetPermissionPolicy echo the stored values."""
    catalog = await stub.SetHostApiCatalog(
        pb.SetHostApiCatalogRequest(
            tenant_id="acme",
            backstage_release="1.31.0",
            apis=[pb.HostApi(name="core.discovery", version="1.4.0", deprecation="old")],
        )
    )
    policy = await stub.SetPermissionPolicy(pb.SetPermissionPolicyRequest(tenant_id="acme"))

    assert catalog.catalog.apis[0].deprecation == "old"
    # An unset default is stored as the safe one.
    assert policy.policy.default_decision == pb.PERMISSION_DECISION_NEEDS_APPROVAL


@pytest.mark.parametrize(
    "call",
    [
        pb.SetHostApiCatalogRequest(
            tenant_id="acme",
            backstage_release="1.31.0",
            apis=[pb.HostApi(name="a", version="1.0.0"), pb.HostApi(name="a", version="1.0.0")],
        ),
        pb.SetReleaseManifestRequest(
            tenant_id="acme", backstage_release="1.31", packages={"@backstage/x": "1.0.0"}
        ),
        pb.SetPermissionPolicyRequest(
            tenant_id="acme", rules=[pb.PermissionRule(pattern="catalog.*")]
        ),
    ],
)
async def test_malformed_set_requests_are_invalid_argument(
    stub: pb_grpc.CompatServiceAsyncStub, store: CompatMemoryStore, call: Any
) -> None:
    """A duplicate API, a release that is no version, or a rule without a decision is refused."""
    method = {
        pb.SetHostApiCatalogRequest: stub.SetHostApiCatalog,
        pb.SetReleaseManifestRequest: stub.SetReleaseManifest,
        pb.SetPermissionPolicyRequest: stub.SetPermissionPolicy,
    }[type(call)]

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await method(call)

    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert (
        store.state.api_catalogs,
        store.state.release_manifests,
        store.state.permission_policies,
    ) == ({}, {}, {})


async def test_release_manifest_can_be_set_from_the_published_document(
    stub: pb_grpc.CompatServiceAsyncStub, store: CompatMemoryStore
) -> None:
    """SetReleaseManifest takes Backstage's manifest.json; giving both forms is refused."""
    document = json.dumps(
        {
            "releaseVersion": "1.31.0",
            "packages": [{"name": "@backstage/core-plugin-api", "version": "1.10.0"}],
        }
    )
    reply = await stub.SetReleaseManifest(
        pb.SetReleaseManifestRequest(
            tenant_id="acme", backstage_release="1.31.0", published_manifest=document
        )
    )
    with pytest.raises(grpc.aio.AioRpcError) as both:
        await stub.SetReleaseManifest(
            pb.SetReleaseManifestRequest(
                tenant_id="acme",
                backstage_release="1.31.0",
                published_manifest=document,
                packages={"@backstage/core-plugin-api": "1.9.0"},
            )
        )

    assert dict(reply.manifest.packages) == {"@backstage/core-plugin-api": "1.10.0"}
    assert both.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert dict(store.state.release_manifests["acme", "1.31.0"].packages) == dict(
        reply.manifest.packages
    )
