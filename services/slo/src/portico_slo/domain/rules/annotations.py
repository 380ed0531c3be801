"""How an OpenSLO document shapes its rules: annotations on the SLO's metadata.

    metadata:
      annotations:
        portico.dev/rules-group-by: service      # labels the rules keep (comma-separated)
        portico.dev/alert-name: MyServiceBurn    # the tier alerts' name (SLOBurnRate)
        portico.dev/runbook: https://...         # the tier alerts' runbook annotation

An imported SLO keeps its document (`SloDefinition.openslo`), so these hold
for the rules exported from the service as for the CLI's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from portico_slo.domain.objective import SloDefinition
from portico_slo.domain.rules.model import DEFAULT_ALERT_NAME, RuleTarget

GROUP_BY = "portico.dev/rules-group-by"
ALERT_NAME = "portico.dev/alert-name"
RUNBOOK = "portico.dev/runbook"


def annotations_of(definition: SloDefinition) -> dict[str, str]:
    """The string annotations of the OpenSLO document the SLO was imported from, if any."""
    if not definition.openslo:
        return {}
    try:
        extras = json.loads(definition.openslo)
    except ValueError:
        return {}
    document = extras.get("document") if isinstance(extras, Mapping) else None
    metadata = document.get("metadata") if isinstance(document, Mapping) else None
    found = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    if not isinstance(found, Mapping):
        return {}
    return {str(k): v for k, v in found.items() if isinstance(v, str)}


def target_of(definition: SloDefinition, *, tenant_label: bool = True) -> RuleTarget:
    """The rules an SLO asks for: grouping, alert name and runbook from its annotations."""
    notes = annotations_of(definition)
    group_by = tuple(g.strip() for g in notes.get(GROUP_BY, "").split(",") if g.strip())
    return RuleTarget(
        definition,
        group_by=group_by,
        alert_name=notes.get(ALERT_NAME, "").strip() or DEFAULT_ALERT_NAME,
        runbook=notes.get(RUNBOOK, "").strip(),
        tenant_label=tenant_label,
    )
