"""Advisory use cases: import OSV documents, match a plugin and its dependencies.

Public API (secure install calls these):

    await match_advisories(uow, tenant_id, plugin, version, dependencies)
        -> list[AdvisoryMatch]          # worst severity first
    await import_advisories(uow, documents) -> list[ImportResult]
    await import_from_sources(uow, sources) -> list[ImportResult]

`uow` is any factory whose unit of work has an `advisories` repository
(the trust unit of work has one). Advisories are platform data, shared by every
tenant: a tenant's transaction can read them, only an ALL_TENANTS transaction
can write them (the table's row-level security says so too).

Imports are all-or-nothing: every document is parsed and checked first; if
any is invalid, InvalidAdvisoryBatchError lists each bad document (origin,
JSON path, problem) and nothing is stored. A valid batch reports one result
per document: CREATED, UPDATED (its `modified` is newer than the stored one)
or UNCHANGED (the stored one is as new or newer, so replays change nothing).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from portico_common.npm import parse_package_name, require_package_name, require_version
from portico_common.tenants import ALL_TENANTS, require_tenant_id
from portico_security.trust.app.ports import (
    AdvisorySource,
    AdvisoryUnitOfWork,
    AdvisoryUowFactory,
    RawDocument,
)
from portico_security.trust.domain.advisories import Advisory, AdvisoryMatch, match_packages
from portico_security.trust.domain.osv import parse_document
from portico_security.trust.errors import (
    InvalidAdvisoryBatchError,
    InvalidAdvisoryError,
    InvalidTrustRequestError,
)

# osv.dev's npm feed holds a few hundred thousand documents (most of them MAL-
# malicious-package reports); a batch this size still fits one transaction.
MAX_BATCH = 500_000
MAX_DEPENDENCIES = 5_000


class ImportOutcome(enum.Enum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    UNCHANGED = "UNCHANGED"


@dataclass(frozen=True, slots=True)
class ImportResult:
    advisory_id: str
    outcome: ImportOutcome
    origin: str


def parse_batch(documents: Sequence[RawDocument]) -> list[tuple[str, Advisory]]:
    """Every document parsed, or InvalidAdvisoryBatchError naming each bad one."""
    if len(documents) > MAX_BATCH:
        raise InvalidTrustRequestError("documents", f"more than {MAX_BATCH} in one batch")
    parsed: list[tuple[str, Advisory]] = []
    errors: list[InvalidAdvisoryError] = []
    seen: dict[str, str] = {}
    for doc in documents:
        try:
            advisory = parse_document(doc.content, doc.origin)
        except InvalidAdvisoryError as exc:
            errors.append(exc)
            continue
        if advisory.id in seen:
            errors.append(
                InvalidAdvisoryError(
                    doc.origin, "$.id", f"{advisory.id!r} also in {seen[advisory.id]}"
                )
            )
            continue
        seen[advisory.id] = doc.origin
        parsed.append((doc.origin, advisory))
    if errors:
        raise InvalidAdvisoryBatchError(errors)
    return parsed


async def import_advisories(
    uow: AdvisoryUowFactory, documents: Sequence[RawDocument]
) -> list[ImportResult]:
    """Stores a valid batch in one platform transaction; an invalid one changes nothing."""
    if not documents:
        raise InvalidTrustRequestError("documents", "no advisory documents to import")
    parsed = parse_batch(documents)
    results = []
    async with uow(ALL_TENANTS) as tx:
        stored = await tx.advisories.modified_of([a.id for _, a in parsed])
        changed = []
        for origin, advisory in parsed:
            before = stored.get(advisory.id)
            if before is not None and before >= advisory.modified:
                outcome = ImportOutcome.UNCHANGED
            else:
                changed.append(advisory)
                outcome = ImportOutcome.CREATED if before is None else ImportOutcome.UPDATED
            results.append(ImportResult(advisory.id, outcome, origin))
        if changed:
            await tx.advisories.save(changed, tx.clock.now())
    return results


async def import_from_sources(
    uow: AdvisoryUowFactory, sources: Sequence[AdvisorySource], extra: Sequence[RawDocument] = ()
) -> list[ImportResult]:
    """Reads every source (before any transaction opens), then imports all as one batch."""
    documents = list(extra)
    for source in sources:
        documents.extend(await source.fetch())
    return await import_advisories(uow, documents)


async def match_advisories(
    uow: AdvisoryUowFactory,
    tenant_id: str,
    plugin: str,
    version: str,
    dependencies: Sequence[tuple[str, str]] = (),
) -> list[AdvisoryMatch]:
    """Open advisories for plugin@version (direct) and each resolved dependency."""
    require_tenant_id(tenant_id)
    packages = check_packages(plugin, version, dependencies)
    async with uow(tenant_id) as tx:
        return await matches_in(tx, packages)


async def matches_in(
    tx: AdvisoryUnitOfWork, packages: Sequence[tuple[str, str, bool]]
) -> list[AdvisoryMatch]:
    """Matching inside an open unit of work (for use cases that hold one already)."""
    advisories = await tx.advisories.for_packages(sorted({name for name, _, _ in packages}))
    return match_packages(advisories, packages)


def check_packages(
    plugin: str, version: str, dependencies: Sequence[tuple[str, str]]
) -> list[tuple[str, str, bool]]:
    """(name, version, direct) for the plugin and its dependencies, each validated."""
    if len(dependencies) > MAX_DEPENDENCIES:
        raise InvalidTrustRequestError("dependencies", f"more than {MAX_DEPENDENCIES}")
    packages = [(require_package_name(plugin, "plugin"), require_version(version), True)]
    for index, (name, dep_version) in enumerate(dependencies):
        # A dependency may be an old package (`JSONStream`), named before npm's
        # lowercase rule; it only has to pass the rules npm still enforces.
        field = f"dependencies[{index}]"
        parse_package_name(name, field=f"{field}.name", new_package=False)
        packages.append((name, require_version(dep_version, f"{field}.version"), False))
    return packages
