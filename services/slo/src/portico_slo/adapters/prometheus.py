"""Pulled SLIs from a Prometheus server's HTTP API (`/api/v1/query_range`).

A ratio SLI's queries are counters: each step's count is the counter's
increase over the step, `sum(increase(<query>[<step>s]))`, read at the end of
every step; a query that already says how to window itself carries the
Sloth-style placeholder `{{window}}` (say `sum(rate(x[{{window}}])) * 30`)
and is used as written. A threshold SLI's `value` query (a
histogram_quantile, say) is read once per step and judged against its
threshold: one good or bad sample per step.

Counts read from `increase()` are extrapolated floats; they are rounded to
whole events.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import httpx

from portico_slo.app.ports import Sample
from portico_slo.domain.burn_rate import Counts
from portico_slo.domain.objective import SloDefinition
from portico_slo.errors import PullError

WINDOW = "{{window}}"


def counter_query(query: str, step_seconds: int) -> str:
    """The count of events per step that `query` describes."""
    if WINDOW in query:
        return query.replace(WINDOW, f"{step_seconds}s")
    return f"sum(increase(({query})[{step_seconds}s]))"


class PrometheusMetrics:
    """A MetricsSource reading one Prometheus server."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout

    async def read(
        self, definition: SloDefinition, start: datetime, end: datetime, step_seconds: int
    ) -> list[Sample]:
        source = definition.indicator.prometheus
        if source is None:
            return []
        step = timedelta(seconds=step_seconds)
        async with httpx.AsyncClient(base_url=self._base_url, timeout=self._timeout) as client:
            if source.is_threshold:
                values = await self._range(
                    client, source.value.replace(WINDOW, f"{step_seconds}s"), start, end, step
                )
                return [
                    Sample(at - step, Counts.of(source.judge(v)))
                    for at, v in sorted(values.items())
                    if not math.isnan(v)
                ]
            total = await self._range(
                client, counter_query(source.total, step_seconds), start, end, step
            )
            part_query = source.good or source.bad
            part = await self._range(
                client, counter_query(part_query, step_seconds), start, end, step
            )
        samples = []
        for at, value in sorted(total.items()):
            if math.isnan(value):
                continue
            events = max(0, round(value))
            counted = min(events, max(0, round(part.get(at, 0.0))))
            good = counted if source.good else events - counted
            samples.append(Sample(at - step, Counts(good=good, bad=events - good)))
        return samples

    async def _range(
        self,
        client: httpx.AsyncClient,
        query: str,
        start: datetime,
        end: datetime,
        step: timedelta,
    ) -> dict[datetime, float]:
        """The query's value at the end of every step in (start, end], summed over series."""
        try:
            response = await client.get(
                "/api/v1/query_range",
                params={
                    "query": query,
                    "start": (start + step).timestamp(),
                    "end": end.timestamp(),
                    "step": step.total_seconds(),
                },
            )
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise PullError(f"prometheus at {self._base_url} did not answer: {exc}") from exc
        if response.status_code != 200 or body.get("status") != "success":
            raise PullError(
                f"prometheus refused {query!r}: {body.get('error', response.status_code)}"
            )
        values: dict[datetime, float] = {}
        for series in body["data"]["result"]:
            for stamp, text in series["values"]:
                at = datetime.fromtimestamp(float(stamp), UTC)
                values[at] = values.get(at, 0.0) + float(text)
        return values
