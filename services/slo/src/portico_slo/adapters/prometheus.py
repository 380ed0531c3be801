"""Pulled SLIs from a Prometheus server's HTTP API (`/api/v1/query_range`).

A ratio SLI's queries are counter selectors: `sum(<query>)` is read at
every step boundary and each step counts the difference (exact, where
`increase()` would extrapolate). A query that windows itself carries the
Sloth-style placeholder `{{window}}` (say
`sum(increase(x_total{code="ok"}[{{window}}]))`) and is read as the count
of each step. A threshold SLI's `value` query (a histogram_quantile, say) is
read once per step and judged against its threshold: one good or bad sample
per step. Counts are rounded to whole events.
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
                query = source.value.replace(WINDOW, f"{step_seconds}s")
                values = await self._range(client, query, start + step, end, step)
                return [
                    Sample(at - step, Counts.of(source.judge(v)))
                    for at, v in sorted(values.items())
                    if not math.isnan(v)
                ]
            total = await self._counts(client, source.total, start, end, step)
            part = await self._counts(client, source.good or source.bad, start, end, step)
        samples = []
        for at, value in sorted(total.items()):
            events = max(0, round(value))
            counted = min(events, max(0, round(part.get(at, 0.0))))
            good = counted if source.good else events - counted
            samples.append(Sample(at, Counts(good=good, bad=events - good)))
        return samples

    async def _counts(
        self,
        client: httpx.AsyncClient,
        query: str,
        start: datetime,
        end: datetime,
        step: timedelta,
    ) -> dict[datetime, float]:
        """Events per step in [start, end), keyed by the step's start.

        A templated query counts each step itself. A counter selector is read
        at every step boundary and differenced: exact where increase() would
        extrapolate, and a drop (a restarted process) counts from zero.
        """
        if WINDOW in query:
            windowed = query.replace(WINDOW, f"{int(step.total_seconds())}s")
            values = await self._range(client, windowed, start + step, end, step)
            return {at - step: v for at, v in values.items() if not math.isnan(v)}
        values = await self._range(client, f"sum({query})", start, end, step)
        counts = {}
        at = start
        while at + step <= end:
            before, after = values.get(at), values.get(at + step)
            if before is not None and after is not None:
                counts[at] = after - before if after >= before else after
            at += step
        return counts

    async def _range(
        self,
        client: httpx.AsyncClient,
        query: str,
        first: datetime,
        last: datetime,
        step: timedelta,
    ) -> dict[datetime, float]:
        """The query's value at every step from `first` to `last`, summed over series."""
        if last < first:
            return {}
        try:
            response = await client.get(
                "/api/v1/query_range",
                params={
                    "query": query,
                    "start": first.timestamp(),
                    "end": last.timestamp(),
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
