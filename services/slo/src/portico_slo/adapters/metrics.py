"""The burn-rate gauge on Prometheus (`portico_slo_burn_rate`, read by deploy/prometheus)."""

from __future__ import annotations

from portico_common.metrics import SLO_BURN_RATE
from portico_slo.domain.objective import SloDefinition, format_duration


class PrometheusBurnRates:
    """Sets one series per SLO window, labelled like the alert rules expect ("5m", "1h")."""

    def __init__(self) -> None:
        # What the tick must judge again, even without outcomes, so the series fall to 0.
        self._burning: set[str] = set()

    def burning(self) -> frozenset[str]:
        return frozenset(self._burning)

    def set(self, definition: SloDefinition, short_burn: float, long_burn: float) -> None:
        if short_burn or long_burn:
            self._burning.add(definition.slo_id)
        else:
            self._burning.discard(definition.slo_id)
        for seconds, value in (
            (definition.short_window_seconds, short_burn),
            (definition.long_window_seconds, long_burn),
        ):
            SLO_BURN_RATE.labels(
                definition.tenant_id,
                definition.plugin,
                definition.version,
                format_duration(seconds),
            ).set(value)
