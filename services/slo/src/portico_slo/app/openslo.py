"""OpenSLO import and export: YAML documents in, SLOs out, and back."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import yaml

from portico_common.tenants import require_tenant_id
from portico_slo.app.handlers import store_new
from portico_slo.app.ports import BurnRateGauge, SloFilter, SloRecord, UnitOfWorkFactory
from portico_slo.domain.objective import SloDefinition, bucket_seconds_for
from portico_slo.domain.openslo import documents, reading, writing
from portico_slo.domain.slo import SloStatus
from portico_slo.errors import OpenSloError, SloNotFoundError

MAX_YAML_BYTES = 1_000_000


def parse_yaml(text: str) -> list[object]:
    """The documents of a YAML stream, or an error naming where it broke."""
    if len(text.encode()) > MAX_YAML_BYTES:
        raise OpenSloError("yaml", f"is larger than {MAX_YAML_BYTES} bytes")
    try:
        return list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "yaml"
        problem = getattr(exc, "problem", None) or str(exc)
        raise OpenSloError(f"yaml ({where})", str(problem)) from None


def read_definitions(
    text: str, *, tenant_id: str, plugin: str = "", version: str = "", rollout_id: str = ""
) -> list[SloDefinition]:
    """The SLOs the documents describe, checked, not stored."""
    found = documents.bundle(parse_yaml(text))
    if not found.slos:
        raise OpenSloError("documents", "hold no SLO")
    return [
        item.spec.definition(str(uuid.uuid4()), tenant_id, item.scope)
        for item in reading.read(found, plugin=plugin, version=version, rollout_id=rollout_id)
    ]


async def import_openslo(
    uow: UnitOfWorkFactory,
    gauge: BurnRateGauge,
    *,
    tenant_id: str,
    text: str,
    plugin: str = "",
    version: str = "",
    rollout_id: str = "",
    dry_run: bool = False,
) -> list[SloRecord]:
    """Creates the SLOs of OpenSLO documents, all checked before any is stored."""
    require_tenant_id(tenant_id)
    definitions = read_definitions(
        text, tenant_id=tenant_id, plugin=plugin, version=version, rollout_id=rollout_id
    )
    if dry_run:
        return [
            SloRecord(d, SloStatus(d.slo_id), bucket_seconds_for(d), created_at=_epoch())
            for d in definitions
        ]
    return [await store_new(uow, gauge, d) for d in definitions]


def _epoch() -> datetime:
    # A dry run stores nothing, so nothing was created when.
    return datetime(1970, 1, 1, tzinfo=UTC)


def write_yaml(definitions: Sequence[SloDefinition]) -> str:
    return yaml.safe_dump_all(
        writing.documents(definitions), sort_keys=False, allow_unicode=True, width=100
    )


async def export_openslo(
    uow: UnitOfWorkFactory, *, tenant_id: str, slo_ids: Sequence[str] = ()
) -> str:
    """The tenant's SLOs (or the named ones) as OpenSLO v1 YAML documents."""
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        if slo_ids:
            found = []
            for slo_id in slo_ids:
                slo = await tx.slos.get(tenant_id, slo_id)
                if slo is None:
                    raise SloNotFoundError(slo_id)
                found.append(slo)
        else:
            found, after = [], ""
            while page := await tx.slos.page(tenant_id, SloFilter(), after=after, limit=500):
                found += page
                after = page[-1].definition.name
    return write_yaml([s.definition for s in found])
