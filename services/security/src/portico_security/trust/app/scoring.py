"""Trust use cases: score a plugin version, read and set a tenant's weights.

Public API (secure install calls these):

    await score_plugin(uow, signals, ScorePlugin(...)) -> TrustVerdict
        # opens its own tenant transaction, stores the verdict
    await score_in(tx, ScorePlugin(...), package_signals) -> TrustVerdict
        # inside a unit of work the caller already holds (same transaction as
        # its own decision); fetch `package_signals` first with
        # `await signals.signals(plugin)` so no HTTP call runs inside it
    await get_trust_score(uow, tenant_id, score_id) -> TrustVerdict
    await get_trust_policy(uow, tenant_id) -> TrustPolicy
    await set_trust_weights(uow, tenant_id, TrustWeights(...)) -> TrustPolicy

Pass `ScorePlugin(..., key_id=verification.key_id)` to have the signing
key's age read from the tenant's key registry.

`verdict.trust.score` is 0-100, `verdict.trust.factors` the five factors with
their evidence; `verdict.trust.inputs_digest` identifies the inputs. "Now"
comes from the unit of work's Clock, so a ManualClock makes scores repeatable.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from portico_common.tenants import require_tenant_id
from portico_security.trust.app.advisories import check_packages, matches_in
from portico_security.trust.app.ports import PackageSignalsSource, TrustUnitOfWork, TrustUowFactory
from portico_security.trust.domain.policy import TrustPolicy, TrustVerdict, default_policy
from portico_security.trust.domain.scores import (
    PackageSignals,
    PublisherEvidence,
    TrustInputs,
    TrustWeights,
)
from portico_security.trust.domain.scoring import score_trust
from portico_security.trust.errors import InvalidTrustRequestError, TrustScoreNotFoundError

# Far above any real key id; anything longer is refused rather than looked up.
MAX_KEY_ID = 1024


@dataclass(frozen=True, slots=True)
class ScorePlugin:
    tenant_id: str
    plugin: str
    version: str
    publisher: PublisherEvidence = field(default_factory=PublisherEvidence)
    # Resolved (exact) versions of the plugin's dependencies.
    dependencies: Sequence[tuple[str, str]] = ()
    # The signing key's id: its age comes from the tenant's key registry when
    # `publisher.key_created_at` is not given.
    key_id: str = ""


async def score_plugin(
    uow: TrustUowFactory, signals: PackageSignalsSource, command: ScorePlugin
) -> TrustVerdict:
    """Scores the plugin version under the tenant's weights and stores the verdict."""
    require_tenant_id(command.tenant_id)
    check_packages(command.plugin, command.version, command.dependencies)
    package_signals = await signals.signals(command.plugin)
    async with uow(command.tenant_id) as tx:
        return await score_in(tx, command, package_signals)


async def score_in(
    tx: TrustUnitOfWork, command: ScorePlugin, package_signals: PackageSignals | None
) -> TrustVerdict:
    """Scores and stores inside an open unit of work of the command's tenant."""
    packages = check_packages(command.plugin, command.version, command.dependencies)
    if len(command.key_id) > MAX_KEY_ID or "\x00" in command.key_id:
        raise InvalidTrustRequestError("key_id", f"must be text of at most {MAX_KEY_ID} characters")
    policy = await tx.trust_policies.get(command.tenant_id) or default_policy(command.tenant_id)
    own = await tx.advisories.for_packages([packages[0][0]])
    dependency_matches = await matches_in(tx, packages[1:])
    now = tx.clock.now()
    publisher = command.publisher
    if publisher.key_created_at is None and command.key_id:
        key = await tx.publisher_keys.get(command.tenant_id, command.key_id)
        if key is not None:
            publisher = dataclasses.replace(publisher, key_created_at=key.created_at)
    trust = score_trust(
        TrustInputs(
            plugin=packages[0][0],
            version=packages[0][1],
            now=now,
            publisher=publisher,
            signals=package_signals,
            advisories=tuple(sorted(own, key=lambda a: a.id)),
            dependency_matches=tuple(dependency_matches),
        ),
        policy.weights,
    )
    verdict = TrustVerdict(
        score_id=str(uuid.uuid4()),
        tenant_id=command.tenant_id,
        plugin=command.plugin,
        version=command.version,
        trust=trust,
        scored_at=now,
    )
    await tx.trust_verdicts.add(verdict)
    return verdict


async def get_trust_score(uow: TrustUowFactory, tenant_id: str, score_id: str) -> TrustVerdict:
    """A stored verdict of the tenant, or TrustScoreNotFoundError."""
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        verdict = await tx.trust_verdicts.get(tenant_id, score_id)
    if verdict is None:
        raise TrustScoreNotFoundError(tenant_id, score_id)
    return verdict


async def get_trust_policy(uow: TrustUowFactory, tenant_id: str) -> TrustPolicy:
    """The tenant's policy, or the platform defaults."""
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        return await tx.trust_policies.get(tenant_id) or default_policy(tenant_id)


async def set_trust_weights(
    uow: TrustUowFactory, tenant_id: str, weights: TrustWeights
) -> TrustPolicy:
    """Replaces the tenant's weights (TrustWeights has already checked their range)."""
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        policy = TrustPolicy(
            tenant_id=tenant_id, weights=weights, customized=True, updated_at=tx.clock.now()
        )
        await tx.trust_policies.put(policy)
        return policy
