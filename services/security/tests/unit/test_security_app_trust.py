"""Advisory and trust use cases against the in-memory adapters."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from portico_common.clock import ManualClock
from portico_common.memory_uow import RowLevelSecurityError
from portico_common.npm import InvalidPackageNameError, InvalidVersionError
from portico_common.tenants import InvalidTenantIdError
from portico_security.testing.trust import FixedSignals
from portico_security.trust.adapters.memory import TrustMemoryStore
from portico_security.trust.app.advisories import (
    ImportOutcome,
    import_advisories,
    match_advisories,
)
from portico_security.trust.app.ports import RawDocument, TrustUowFactory
from portico_security.trust.app.scoring import (
    ScorePlugin,
    get_trust_policy,
    get_trust_score,
    score_plugin,
    set_trust_weights,
)
from portico_security.trust.domain.scores import (
    DEFAULT_WEIGHTS,
    PackageSignals,
    PublisherEvidence,
    TrustWeights,
)
from portico_security.trust.errors import (
    InvalidAdvisoryBatchError,
    InvalidTrustRequestError,
    TrustScoreNotFoundError,
)
from portico_security.verification.domain.signatures import KeyAlgorithm, PublisherKey

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


def doc(
    adv_id: str, package: str, fixed: str, modified: str = "2026-01-01T00:00:00Z"
) -> RawDocument:
    body = {
        "id": adv_id,
        "modified": modified,
        "affected": [
            {
                "package": {"ecosystem": "npm", "name": package},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": fixed}]}],
            }
        ],
        "severity": [{"type": "CVSS_V3", "score": CRITICAL}],
    }
    return RawDocument(f"{adv_id}.json", json.dumps(body))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def store(clock: ManualClock) -> TrustMemoryStore:
    return TrustMemoryStore(clock)


@pytest.fixture
def uow(store: TrustMemoryStore) -> TrustUowFactory:
    return store.uow_factory()


async def test_import_reports_created_then_unchanged(
    uow: TrustUowFactory, store: TrustMemoryStore
) -> None:
    """A first import creates; replaying the same batch changes nothing and says so."""
    batch = [doc("GHSA-a", "left-pad", "1.0.1"), doc("GHSA-b", "lodash", "4.17.21")]
    first = await import_advisories(uow, batch)
    again = await import_advisories(uow, batch)
    assert [r.outcome for r in first] == [ImportOutcome.CREATED] * 2
    assert [r.outcome for r in again] == [ImportOutcome.UNCHANGED] * 2
    assert set(store.state.advisories) == {"GHSA-a", "GHSA-b"}


async def test_newer_modified_updates_older_is_ignored(
    uow: TrustUowFactory, store: TrustMemoryStore
) -> None:
    """A newer `modified` replaces the stored advisory; an older one leaves it alone."""
    await import_advisories(uow, [doc("GHSA-a", "left-pad", "1.0.1", "2026-01-02T00:00:00Z")])
    newer = await import_advisories(
        uow, [doc("GHSA-a", "left-pad", "1.0.2", "2026-01-03T00:00:00Z")]
    )
    older = await import_advisories(
        uow, [doc("GHSA-a", "left-pad", "9.9.9", "2026-01-01T00:00:00Z")]
    )
    assert newer[0].outcome is ImportOutcome.UPDATED
    assert older[0].outcome is ImportOutcome.UNCHANGED
    assert store.state.advisories["GHSA-a"][0].affected[0].fixed_versions == ("1.0.2",)


async def test_one_bad_document_imports_nothing(
    uow: TrustUowFactory, store: TrustMemoryStore
) -> None:
    """A batch with one invalid document names it and stores none of the valid ones."""
    batch = [doc("GHSA-a", "left-pad", "1.0.1"), RawDocument("broken.json", '{"id": "X"}')]
    with pytest.raises(InvalidAdvisoryBatchError) as caught:
        await import_advisories(uow, batch)
    assert [e.origin for e in caught.value.errors] == ["broken.json (X)"]
    assert store.state.advisories == {}


async def test_duplicate_ids_in_one_batch_are_refused(
    uow: TrustUowFactory, store: TrustMemoryStore
) -> None:
    """The same advisory id twice in a batch is an error naming both origins."""
    with pytest.raises(InvalidAdvisoryBatchError, match=r"also in GHSA-a\.json"):
        await import_advisories(uow, [doc("GHSA-a", "a", "1.0.0"), doc("GHSA-a", "b", "1.0.0")])
    assert store.state.advisories == {}


async def test_empty_import_is_refused(uow: TrustUowFactory) -> None:
    """An import with no documents is an invalid request, not a silent success."""
    with pytest.raises(InvalidTrustRequestError):
        await import_advisories(uow, [])


async def test_tenant_transaction_cannot_write_advisories(uow: TrustUowFactory) -> None:
    """The fake, like RLS, refuses advisory writes outside a platform transaction."""
    with pytest.raises(RowLevelSecurityError):
        async with uow("acme") as tx:
            await tx.advisories.save([object()], T0)  # type: ignore[list-item]


async def test_match_plugin_and_dependencies(uow: TrustUowFactory) -> None:
    """The plugin's own advisory is direct, a dependency's is not; fixed versions come along."""
    await import_advisories(
        uow, [doc("GHSA-own", "@acme/plugin", "2.0.0"), doc("GHSA-dep", "lodash", "4.17.21")]
    )
    matches = await match_advisories(
        uow, "acme", "@acme/plugin", "1.5.0", [("lodash", "4.17.20"), ("left-pad", "1.0.0")]
    )
    found = {(m.advisory_id, m.package, m.direct, m.upgrade_to) for m in matches}
    assert found == {
        ("GHSA-own", "@acme/plugin", True, "2.0.0"),
        ("GHSA-dep", "lodash", False, "4.17.21"),
    }


@pytest.mark.parametrize(
    ("plugin", "version", "deps", "error"),
    [
        ("Bad Name", "1.0.0", [], InvalidPackageNameError),
        ("@acme/plugin", "^1.0.0", [], InvalidVersionError),
        ("@acme/plugin", "1.0.0", [("lodash", "latest")], InvalidVersionError),
        ("@acme/plugin", "1.0.0.0.0-", [], InvalidVersionError),
        ("@acme/plugin", "1.0.0", [("a b", "1.0.0")], InvalidPackageNameError),
    ],
)
async def test_match_refuses_bad_names_and_ranges(
    uow: TrustUowFactory,
    plugin: str,
    version: str,
    deps: list[tuple[str, str]],
    error: type[Exception],
) -> None:
    """Matching needs valid npm names and exact versions, not ranges or tags."""
    with pytest.raises(error):
        await match_advisories(uow, "acme", plugin, version, deps)


async def test_score_stores_the_verdict_with_its_breakdown(
    uow: TrustUowFactory, store: TrustMemoryStore
) -> None:
    """A score is stored with every factor, the weights used and the inputs digest."""
    signals = FixedSignals({"@acme/plugin": PackageSignals(weekly_downloads=500, has_tests=True)})
    verdict = await score_plugin(
        uow,
        signals,
        ScorePlugin("acme", "@acme/plugin", "1.0.0", PublisherEvidence(signature_verified=True)),
    )
    assert store.state.verdicts[verdict.score_id] == verdict
    assert [f.name for f in verdict.trust.factors] == [
        "publisher",
        "security_history",
        "community",
        "quality",
        "update_cadence",
    ]
    assert verdict.scored_at == T0
    assert signals.asked == ["@acme/plugin"]


async def test_same_inputs_and_clock_give_the_same_score(uow: TrustUowFactory) -> None:
    """Two scorings at the same instant with the same data agree in score and digest."""
    signals = FixedSignals({})
    command = ScorePlugin("acme", "@acme/plugin", "1.0.0")
    first = await score_plugin(uow, signals, command)
    second = await score_plugin(uow, signals, command)
    assert (first.trust.score, first.trust.inputs_digest) == (
        second.trust.score,
        second.trust.inputs_digest,
    )
    assert first.score_id != second.score_id


async def test_open_advisory_lowers_the_score(uow: TrustUowFactory) -> None:
    """Importing a critical advisory against the version lowers its security history to 40."""
    command = ScorePlugin("acme", "@acme/plugin", "1.0.0")
    before = await score_plugin(uow, FixedSignals({}), command)
    await import_advisories(uow, [doc("GHSA-own", "@acme/plugin", "1.0.1")])
    after = await score_plugin(uow, FixedSignals({}), command)
    history = {f.name: f.score for f in after.trust.factors}["security_history"]
    assert history == 40
    assert after.trust.score < before.trust.score


async def test_tenant_weights_apply_to_that_tenant_only(uow: TrustUowFactory) -> None:
    """A tenant's weights change its scores, not another tenant's."""
    only_publisher = TrustWeights(
        publisher=100, security_history=0, community=0, quality=0, update_cadence=0
    )
    await set_trust_weights(uow, "acme", only_publisher)
    command = ScorePlugin(
        "acme", "@acme/plugin", "1.0.0", PublisherEvidence(identity_verified=True)
    )
    acme = await score_plugin(uow, FixedSignals({}), command)
    other = await score_plugin(
        uow,
        FixedSignals({}),
        ScorePlugin("globex", "@acme/plugin", "1.0.0", PublisherEvidence(identity_verified=True)),
    )
    assert acme.trust.score == 20
    assert acme.trust.weights == only_publisher
    assert other.trust.weights == DEFAULT_WEIGHTS


async def test_policy_defaults_until_set(uow: TrustUowFactory, clock: ManualClock) -> None:
    """GetTrustPolicy returns the defaults (not customized), then the stored weights."""
    before = await get_trust_policy(uow, "acme")
    clock.advance(timedelta(hours=1).total_seconds())
    await set_trust_weights(uow, "acme", TrustWeights(publisher=50))
    after = await get_trust_policy(uow, "acme")
    assert (before.customized, before.weights, before.updated_at) == (False, DEFAULT_WEIGHTS, None)
    assert (after.customized, after.weights.publisher, after.updated_at) == (
        True,
        50,
        T0 + timedelta(hours=1),
    )


async def test_bad_tenant_is_refused_before_anything(uow: TrustUowFactory) -> None:
    """A malformed tenant id is an invalid request for every trust use case."""
    with pytest.raises(InvalidTenantIdError):
        await get_trust_policy(uow, "*")


def _key(created_at: datetime) -> PublisherKey:
    pem = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    return PublisherKey(
        tenant_id="acme",
        publisher="acme",
        key_id="acme-2025",
        algorithm=KeyAlgorithm.ED25519,
        public_key_pem=pem,
        created_at=created_at,
    )


async def test_key_age_comes_from_the_key_registry(
    uow: TrustUowFactory, store: TrustMemoryStore
) -> None:
    """With a key id and no key time, the registered key's age scores (200 days: 10 points)."""
    store.state.keys["acme", "acme-2025"] = _key(T0 - timedelta(days=200))
    verdict = await score_plugin(
        uow, FixedSignals({}), ScorePlugin("acme", "@acme/plugin", "1.0.0", key_id="acme-2025")
    )
    publisher = next(f for f in verdict.trust.factors if f.name == "publisher")
    assert [(e.value, e.points) for e in publisher.evidence if e.signal == "key_age_days"] == [
        ("200", 10)
    ]


async def test_another_tenants_key_is_not_used(
    uow: TrustUowFactory, store: TrustMemoryStore
) -> None:
    """A key id registered only for another tenant leaves the key age unknown."""
    store.state.keys["acme", "acme-2025"] = _key(T0 - timedelta(days=200))
    verdict = await score_plugin(
        uow, FixedSignals({}), ScorePlugin("globex", "@acme/plugin", "1.0.0", key_id="acme-2025")
    )
    publisher = next(f for f in verdict.trust.factors if f.name == "publisher")
    assert [e.value for e in publisher.evidence if e.signal == "key_age_days"] == ["unknown"]


async def test_overlong_key_id_is_refused(uow: TrustUowFactory, store: TrustMemoryStore) -> None:
    """A key id over 1024 characters is an invalid request and no verdict is stored."""
    with pytest.raises(InvalidTrustRequestError, match="key_id"):
        await score_plugin(
            uow, FixedSignals({}), ScorePlugin("acme", "@acme/plugin", "1.0.0", key_id="k" * 1025)
        )
    assert store.state.verdicts == {}


async def test_stored_verdict_is_read_back_by_its_tenant_only(uow: TrustUowFactory) -> None:
    """GetTrustScore returns the verdict to its tenant and NOT_FOUND to any other."""
    verdict = await score_plugin(
        uow, FixedSignals({}), ScorePlugin("acme", "@acme/plugin", "1.0.0")
    )
    assert await get_trust_score(uow, "acme", verdict.score_id) == verdict
    with pytest.raises(TrustScoreNotFoundError) as caught:
        await get_trust_score(uow, "globex", verdict.score_id)
    assert caught.value.code == "NOT_FOUND"


async def test_a_refused_dependency_is_named_by_its_position(uow: TrustUowFactory) -> None:
    """The error names which dependency, and which of its fields, is wrong."""
    deps = [("lodash", "4.17.21"), ("left-pad", "^1.0.0")]
    with pytest.raises(InvalidVersionError, match=r"^invalid dependencies\[1\]\.version '\^1"):
        await match_advisories(uow, "acme", "@acme/plugin", "1.0.0", deps)
    with pytest.raises(InvalidPackageNameError, match=r"^invalid dependencies\[0\]\.name ' x'"):
        await match_advisories(uow, "acme", "@acme/plugin", "1.0.0", [(" x", "1.0.0")])


async def test_dependencies_may_be_old_packages(uow: TrustUowFactory) -> None:
    """A dependency named before npm's lowercase rule (JSONStream) is matched, not refused."""
    assert (
        await match_advisories(uow, "acme", "@acme/plugin", "1.0.0", [("JSONStream", "1.3.5")])
        == []
    )
