"""PromQL text for generated rules: label matchers, numbers, windows and counter reads.

An SLI's queries come in the three forms the pull adapter reads:

- a vector selector (`http_requests_total{code="500"}`): a counter, read as
  `sum(rate(sel[w]))` (or `increase` for event counts);
- a query holding the `{{window}}` placeholder, which windows itself
  (`sum(increase(x_total[{{window}}]))`): used as written with the window put
  in, and read as the count of events in it;
- any other instant expression of counters (`sum by (pod) (x_total)`): read
  through a subquery, `rate((expr)[w:])`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from portico_slo.domain.durations import format_duration

WINDOW = "{{window}}"

_STRING = r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`'
_SELECTOR = re.compile(
    r"\s*(?:[a-zA-Z_:][a-zA-Z0-9_:]*\s*(?:\{(?:[^{}\"'`]|" + _STRING + r")*\})?"
    r"|\{(?:[^{}\"'`]|" + _STRING + r")*\})\s*"
)


def quote(value: str) -> str:
    """A PromQL double-quoted string literal holding `value`."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def matchers(labels: Mapping[str, str]) -> str:
    """Equality matchers in the given order: `{slo="x", tenant="acme"}`."""
    return "{" + ", ".join(f"{k}={quote(v)}" for k, v in labels.items()) + "}"


def number(value: float) -> str:
    """A float as PromQL reads it, without binary noise: 0.001, 14.4, 1000."""
    return f"{round(value, 12):.12g}"


def duration(seconds: int) -> str:
    """A range in Prometheus' duration syntax, largest whole unit: 5m, 1h, 30d, 90s."""
    return format_duration(seconds)


def is_selector(query: str) -> bool:
    """Whether the query is one plain vector selector (a metric name and/or matchers)."""
    return _SELECTOR.fullmatch(query) is not None and bool(query.strip())


def windows_itself(query: str) -> bool:
    """Whether the query carries the `{{window}}` placeholder."""
    return WINDOW in query


def with_window(query: str, seconds: int) -> str:
    """The query with its `{{window}}` placeholder replaced by the window."""
    return query.replace(WINDOW, duration(seconds))


def by(labels: Iterable[str]) -> str:
    """An aggregation's grouping clause: ` by (service)`, or nothing for none."""
    names = list(labels)
    return f" by ({', '.join(names)})" if names else ""


def counter(query: str, seconds: int, group_by: Iterable[str], *, function: str = "rate") -> str:
    """The query's counters over a window: per second (`rate`) or as events (`increase`)."""
    if windows_itself(query):
        return f"({with_window(query.strip(), seconds)})"
    window = duration(seconds)
    if is_selector(query):
        inner = f"{function}({query.strip()}[{window}])"
    else:
        inner = f"{function}(({query.strip()})[{window}:])"
    return f"sum{by(group_by)} ({inner})"
