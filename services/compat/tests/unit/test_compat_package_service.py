"""PackageService and the manifest source, wired by `build` on fakes, on a grpc.aio server."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from portico.compat.v1 import compat_pb2 as cpb
from portico.compat.v1 import compat_pb2_grpc as cpb_grpc
from portico.compat.v1 import packages_pb2 as pb
from portico.compat.v1 import packages_pb2_grpc as pb_grpc
from portico_common.grpc.interceptor import PorticoServerInterceptor
from portico_common.grpc.registration import register_servicers
from portico_compat.adapters.catalog_file import load_catalog_file
from portico_compat.adapters.memory import CompatMemoryStore
from portico_compat.bootstrap import Dependencies, build
from portico_compat.domain.releases import ReleaseManifest, parse_published_manifest
from portico_compat.errors import ReleaseManifestUnavailableError

TENANT = "acme"
REACT = {"react": "18.3.1", "react-dom": "18.3.1", "react-router-dom": "6.28.0"}
CATALOG = "@backstage/plugin-catalog"


class FakeManifests:
    """The release-manifest source on the real fixtures; `down` makes it unreachable."""

    def __init__(self, backstage: Any) -> None:
        self.backstage = backstage
        self.down = False
        self.asked: list[str] = []

    async def fetch(self, tenant_id: str, release: str) -> ReleaseManifest:
        self.asked.append(release)
        if self.down:
            raise ReleaseManifestUnavailableError(release, "cannot reach http://versions")
        return parse_published_manifest(tenant_id, release, self.backstage.manifest(release))


@dataclasses.dataclass
class Stubs:
    compat: cpb_grpc.CompatServiceAsyncStub
    packages: pb_grpc.PackageServiceAsyncStub


@pytest.fixture
def manifests(backstage: Any) -> FakeManifests:
    return FakeManifests(backstage)


@pytest.fixture
async def stubs(
    deps: Dependencies, backstage: Any, manifests: FakeManifests
) -> AsyncIterator[Stubs]:
    """compat built with the real plugin-catalog packument and the fake manifest source."""
    wired = dataclasses.replace(
        deps, catalog=load_catalog_file(backstage.catalog_file), release_manifests=manifests
    )
    server = grpc.aio.server(
        interceptors=[PorticoServerInterceptor("compat", verifier=None, idempotency=None)]
    )
    register_servicers(server, build(wired).servicers)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield Stubs(cpb_grpc.CompatServiceStub(channel), pb_grpc.PackageServiceStub(channel))
    finally:
        await server.stop(None)


async def host_on(stubs: Stubs, release: str) -> cpb.SetHostProfileResponse:
    return await stubs.compat.SetHostProfile(
        cpb.SetHostProfileRequest(
            tenant_id=TENANT, backstage_version=release, node_version="20.18.0", packages=REACT
        )
    )


async def test_setting_a_profile_fetches_its_releases_manifest_once(
    stubs: Stubs, manifests: FakeManifests, store: CompatMemoryStore
) -> None:
    """The profile's release gets its published manifest; a known one is not fetched again."""
    await host_on(stubs, "1.31.0")
    await host_on(stubs, "1.31.0")

    assert manifests.asked == ["1.31.0"]
    assert len(store.state.release_manifests[TENANT, "1.31.0"].packages) == 178


async def test_an_unreachable_source_stores_nothing_and_says_unavailable(
    stubs: Stubs, manifests: FakeManifests, store: CompatMemoryStore
) -> None:
    """No profile without its manifest: UNAVAILABLE, with what to do."""
    manifests.down = True

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await host_on(stubs, "1.31.0")

    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
    assert "record it with SetReleaseManifest" in str(caught.value.details())
    assert store.state.host_profiles == {}


async def test_set_release_manifest_without_packages_fetches_the_published_one(
    stubs: Stubs,
) -> None:
    """PUT release-manifests/{release} with an empty body takes Backstage's own."""
    answer = await stubs.compat.SetReleaseManifest(
        cpb.SetReleaseManifestRequest(tenant_id=TENANT, backstage_release="1.45.0")
    )

    assert len(answer.manifest.packages) == 190


@pytest.mark.parametrize("form", ["package_json", "tarball", "spec"])
async def test_a_package_is_checked_however_it_is_given(
    stubs: Stubs, backstage: Any, store: CompatMemoryStore, form: str
) -> None:
    """package.json, tarball or name@version: the same report, recorded like any check."""
    await host_on(stubs, "1.31.0")
    spec = f"{CATALOG}@1.32.0"
    given = {
        "package_json": pb.PackageInput(package_json=backstage.package_json(spec)),
        "tarball": pb.PackageInput(tarball=backstage.tarball(spec)),
        "spec": pb.PackageInput(spec=spec),
    }[form]

    answer = await stubs.packages.CheckPackage(
        pb.CheckPackageRequest(tenant_id=TENANT, package=given)
    )

    assert (answer.package.name, answer.package.version) == (CATALOG, "1.32.0")
    assert answer.package.source == {"spec": "npm"}.get(form, form.replace("_", "."))
    assert answer.package.backstage.plugin_id == "catalog"
    assert not answer.report.compatible
    runtime = next(d for d in answer.report.dimensions if d.dimension == "runtime")
    assert runtime.verdict == cpb.VERDICT_FAIL
    assert "npm installs 18 extra copies" in runtime.summary
    assert len(store.state.checks) == 1


@pytest.mark.parametrize(
    ("given", "code", "message"),
    [
        (pb.PackageInput(), "INVALID_ARGUMENT", "give exactly one of"),
        (pb.PackageInput(spec=CATALOG), "INVALID_ARGUMENT", "is not name@version"),
        (pb.PackageInput(spec=f"{CATALOG}@^1.0.0"), "INVALID_ARGUMENT", "invalid package spec"),
        (pb.PackageInput(spec=f"{CATALOG}@1.23.0"), "NOT_FOUND", "no version 1.23.0"),
        (pb.PackageInput(tarball=b"not a tarball"), "INVALID_ARGUMENT", "not a gzip"),
    ],
)
async def test_a_package_that_cannot_be_read_is_refused_precisely(
    stubs: Stubs, store: CompatMemoryStore, given: pb.PackageInput, code: str, message: str
) -> None:
    """Nothing given, a bad spec, a version the catalog lacks, a bad tarball: said which."""
    await host_on(stubs, "1.31.0")

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stubs.packages.CheckPackage(pb.CheckPackageRequest(tenant_id=TENANT, package=given))

    assert caught.value.code().name == code
    assert message in str(caught.value.details())
    assert store.state.checks == {}


async def test_the_earliest_known_release_a_plugin_fits_is_found(stubs: Stubs) -> None:
    """plugin-catalog 1.32.0 fails on 1.31.0 and fits 1.45.0: 1.45.0 is the answer."""
    await host_on(stubs, "1.31.0")
    await stubs.compat.SetReleaseManifest(
        cpb.SetReleaseManifestRequest(tenant_id=TENANT, backstage_release="1.45.0")
    )

    answer = await stubs.packages.FindRequiredRelease(
        pb.FindRequiredReleaseRequest(
            tenant_id=TENANT, package=pb.PackageInput(spec=f"{CATALOG}@1.32.0")
        )
    )

    assert (answer.found, answer.release) == (True, "1.45.0")
    assert (answer.current.backstage_release, answer.current.fits) == ("1.31.0", False)
    assert [(r.backstage_release, r.fits) for r in answer.releases] == [
        ("1.31.0", False),
        ("1.45.0", True),
    ]


async def test_no_known_release_is_said_plainly(stubs: Stubs, backstage: Any) -> None:
    """sonarqube 1.2.0 needs newer core packages than any known release ships."""
    await host_on(stubs, "1.45.0")
    spec = "@backstage-community/plugin-sonarqube@1.2.0"

    answer = await stubs.packages.FindRequiredRelease(
        pb.FindRequiredReleaseRequest(
            tenant_id=TENANT, package=pb.PackageInput(package_json=backstage.package_json(spec))
        )
    )

    assert (answer.found, answer.release) == (False, "")
    assert [r.backstage_release for r in answer.releases] == ["1.45.0"]


async def test_the_newest_version_that_fits_the_host_comes_from_the_catalog(stubs: Stubs) -> None:
    """On 1.45.0 the newest plugin-catalog that fits is 1.32.0, the one 1.45.0 ships."""
    await host_on(stubs, "1.45.0")

    answer = await stubs.packages.FindFittingVersion(
        pb.FindFittingVersionRequest(tenant_id=TENANT, plugin=CATALOG)
    )

    assert (answer.found, answer.version, answer.backstage_release) == (True, "1.32.0", "1.45.0")
    assert [t.version for t in answer.tried] == [
        "2.1.0",
        "2.0.9",
        "2.0.8",
        "2.0.7",
        "2.0.6",
        "2.0.5",
        "1.33.1",
        "1.32.2",
        "1.32.1",
        "1.32.0",
    ]
    assert [t.fits for t in answer.tried][-2:] == [False, True]


async def test_a_plugin_the_catalog_does_not_know_is_not_found(stubs: Stubs) -> None:
    """An unknown plugin is NOT_FOUND, not "nothing fits"."""
    await host_on(stubs, "1.45.0")

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stubs.packages.FindFittingVersion(
            pb.FindFittingVersionRequest(tenant_id=TENANT, plugin="@acme/unknown")
        )

    assert caught.value.code() is grpc.StatusCode.NOT_FOUND


async def test_a_plugin_name_npm_would_refuse_is_invalid_before_the_catalog_is_asked(
    stubs: Stubs,
) -> None:
    """FindFittingVersion validates the name as every plugin field is validated."""
    await host_on(stubs, "1.45.0")

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stubs.packages.FindFittingVersion(
            pb.FindFittingVersionRequest(tenant_id=TENANT, plugin="Not A Name")
        )

    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "invalid plugin name" in str(caught.value.details())


async def test_fit_questions_need_the_hosts_profile(stubs: Stubs) -> None:
    """Without a profile there is no host to fit: FAILED_PRECONDITION."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stubs.packages.FindFittingVersion(
            pb.FindFittingVersionRequest(tenant_id=TENANT, plugin=CATALOG)
        )

    assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION
