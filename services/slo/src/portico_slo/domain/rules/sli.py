"""The SLI as PromQL: the share of a window that was bad, as the SLO's budget counts it.

An Occurrences SLO on a ratio SLI counts events: bad over total in each
window, written out per window as Sloth does. The other SLIs are sampled:
one recorded series says how bad the latest sample was, and each window
averages it, as the evaluator averages its buckets:

- a threshold SLI (a `value` query, say a histogram_quantile): 1 while the
  value breaks its threshold, else 0; a NaN (no traffic) is no sample;
- Timeslices: 1 while the last time slice's good ratio is under the
  time-slice target, else 0;
- RatioTimeslices: the last time slice's error ratio.

A window without events has no sample (the division is by `total > 0`): no
traffic is no evidence, as in the evaluator.
"""

from __future__ import annotations

from portico_slo.domain.indicator import BudgetingMethod, PrometheusSource
from portico_slo.domain.objective import SloDefinition
from portico_slo.domain.rules.promql import by, counter, number, with_window

# A sampled value breaks its threshold when `value op threshold` does not hold.
_BREAKS = {"lte": ">", "lt": ">=", "gte": "<", "gt": "<="}


def source_of(definition: SloDefinition) -> PrometheusSource:
    source = definition.indicator.prometheus
    if source is None:  # pragma: no cover - the generator skips pushed SLIs first
        raise ValueError(f"SLO {definition.slo_id} has no Prometheus source")
    return source


def is_sampled(definition: SloDefinition) -> bool:
    """Whether the windows average a recorded sample instead of dividing event counts."""
    return source_of(definition).is_threshold or (
        definition.budgeting is not BudgetingMethod.OCCURRENCES
    )


def event_error_ratio(source: PrometheusSource, seconds: int, group_by: tuple[str, ...]) -> str:
    """Bad events over all events in the window; no sample when there were none."""
    total = counter(source.total, seconds, group_by)
    part = counter(source.good or source.bad, seconds, group_by)
    ratio = f"(\n  {part}\n  or\n  {total} * 0\n)\n/\n({total} > 0)"
    if source.bad:
        return ratio
    return f"1 - (\n{ratio}\n)"


def events(source: PrometheusSource, seconds: int, group_by: tuple[str, ...]) -> str:
    """How many events the window held (the minimum-traffic guard reads it)."""
    return counter(source.total, seconds, group_by, function="increase")


def sample(definition: SloDefinition, group_by: tuple[str, ...], value_window: int) -> str:
    """The recorded sample a sampled SLI's windows average (see the module docstring).

    A threshold SLI's `{{window}}` placeholder becomes `value_window`: the
    pull adapter reads one step, but a rate needs several scrapes.
    """
    source = source_of(definition)
    if source.is_threshold:
        value = f"sum{by(group_by)} ({with_window(source.value.strip(), value_window)})"
        breaks = _BREAKS[source.op]
        judged = f"(\n  {value}\n  {breaks} bool {number(source.threshold)}\n)"
        # NaN (no traffic behind a quantile) equals nothing, itself included.
        return f"{judged}\nand\n({value} == {value})"
    ratio = event_error_ratio(source, definition.timeslice_seconds, group_by)
    if definition.budgeting is BudgetingMethod.TIMESLICES:
        return f"1 - (\n{ratio}\n)\n< bool {number(definition.timeslice_target)}"
    return ratio
