"""compat as a process on real PostgreSQL and NATS, with real Backstage manifests over HTTP.

The versions service is a local HTTP server serving Backstage's published
manifests; the npm catalog is a catalog file with plugin-catalog's real versions.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import pytest

from portico.compat.v1 import compat_pb2 as cpb
from portico.compat.v1 import compat_pb2_grpc as cpb_grpc
from portico.compat.v1 import packages_pb2 as pb
from portico.compat.v1 import packages_pb2_grpc as pb_grpc
from portico_embedded.testing.databases import ServiceDatabaseUrl
from portico_embedded.testing.fixtures import unique
from portico_embedded.testing.services import infra_env, running_process

pytestmark = pytest.mark.integration

REACT = {"react": "18.3.1", "react-dom": "18.3.1", "react-router-dom": "6.28.0"}


@pytest.fixture
async def channel(
    service_database_url: ServiceDatabaseUrl,
    nats_url: str,
    tmp_path: Path,
    versions_server: Any,
    backstage: Any,
) -> AsyncIterator[grpc.aio.Channel]:
    """`python -m portico_compat` with the versions service and the catalog file set."""
    url = await service_database_url("compat")
    env = infra_env(
        url,
        nats_url,
        release_manifests_url=versions_server.url,
        catalog_file=str(backstage.catalog_file),
    )
    async with (
        running_process("portico_compat", env, tmp_path) as service,
        grpc.aio.insecure_channel(service.target) as channel,
    ):
        yield channel


def tenant() -> str:
    return unique("t").replace("_", "-")


async def test_a_profile_fetches_the_real_manifest_into_postgres(
    channel: grpc.aio.Channel, database_url: str, versions_server: Any
) -> None:
    """SetHostProfile 1.31.0 stores Backstage's 178-package manifest beside the profile."""
    acme = tenant()
    compat = cpb_grpc.CompatServiceStub(channel)

    await compat.SetHostProfile(
        cpb.SetHostProfileRequest(
            tenant_id=acme, backstage_version="1.31.0", node_version="20.18.0", packages=REACT
        )
    )

    conn = await asyncpg.connect(database_url)
    try:
        stored = await conn.fetchval(
            "SELECT packages FROM compat.release_manifests"
            " WHERE tenant_id = $1 AND backstage_release = '1.31.0'",
            acme,
        )
    finally:
        await conn.close()
    packages = json.loads(stored)
    assert len(packages) == 178
    assert packages["@techdocs/cli"]
    assert versions_server.requests == ["/v1/releases/1.31.0/manifest.json"]


@pytest.mark.parametrize("release", ["1.31.0", "1.45.0"])
async def test_the_real_published_manifests_are_accepted_as_uploaded(
    channel: grpc.aio.Channel, backstage: Any, release: str
) -> None:
    """SetReleaseManifest with Backstage's own document keeps every package it lists."""
    answer = await cpb_grpc.CompatServiceStub(channel).SetReleaseManifest(
        cpb.SetReleaseManifestRequest(
            tenant_id=tenant(),
            backstage_release=release,
            published_manifest=backstage.manifest(release),
        )
    )

    assert len(answer.manifest.packages) == {"1.31.0": 178, "1.45.0": 190}[release]


async def test_check_then_which_release_and_which_version_on_real_data(
    channel: grpc.aio.Channel, backstage: Any
) -> None:
    """A tarball checked on 1.31.0 fails on singletons; it needs 1.45.0; 1.45.0 fits 1.32.0."""
    acme = tenant()
    compat = cpb_grpc.CompatServiceStub(channel)
    packages = pb_grpc.PackageServiceStub(channel)
    spec = "@backstage/plugin-catalog@1.32.0"
    await compat.SetHostProfile(
        cpb.SetHostProfileRequest(
            tenant_id=acme, backstage_version="1.31.0", node_version="20.18.0", packages=REACT
        )
    )
    await compat.SetReleaseManifest(
        cpb.SetReleaseManifestRequest(tenant_id=acme, backstage_release="1.45.0")
    )

    check = await packages.CheckPackage(
        pb.CheckPackageRequest(
            tenant_id=acme, package=pb.PackageInput(tarball=backstage.tarball(spec))
        )
    )
    needed = await packages.FindRequiredRelease(
        pb.FindRequiredReleaseRequest(tenant_id=acme, package=pb.PackageInput(spec=spec))
    )
    await compat.SetHostProfile(
        cpb.SetHostProfileRequest(
            tenant_id=acme, backstage_version="1.45.0", node_version="20.18.0", packages=REACT
        )
    )
    fitting = await packages.FindFittingVersion(
        pb.FindFittingVersionRequest(tenant_id=acme, plugin="@backstage/plugin-catalog")
    )

    failed = {
        f.name for d in check.report.dimensions for f in d.findings if f.verdict == cpb.VERDICT_FAIL
    }
    assert failed == {
        "@backstage/core-plugin-api",
        "@backstage/frontend-plugin-api",
        "@backstage/version-bridge",
    }
    assert (needed.found, needed.release) == (True, "1.45.0")
    assert (fitting.found, fitting.version) == (True, "1.32.0")
