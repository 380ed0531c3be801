"""What an SLO promises, over which window, and the burn-rate tiers that guard it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from portico_slo.domain._numbers import at_least
from portico_slo.domain.durations import format_duration
from portico_slo.domain.indicator import BudgetingMethod, Indicator
from portico_slo.domain.scope import Scope, ScopeKind
from portico_slo.domain.tiers import AlertPolicy, BurnRateTier, Severity
from portico_slo.domain.windows import TimeWindow
from portico_slo.errors import InvalidObjectiveError, InvalidSloDefinitionError, InvalidWindowError

__all__ = ["SloDefinition", "bucket_seconds_for", "format_duration"]

# The workbook's page-worthy rule: 2% of a 30-day budget burnt in one hour.
DEFAULT_WINDOW_SECONDS = 30 * 24 * 3600
DEFAULT_BURN_RATE_THRESHOLD = 14.4
DEFAULT_SHORT_WINDOW_SECONDS = 300
DEFAULT_LONG_WINDOW_SECONDS = 3600
# Below this many events a few failures are noise, not a trend.
DEFAULT_MIN_EVENTS = 10
MAX_NAME_LENGTH = 253
# Outcomes are counted in buckets of up to this many seconds: a 5-minute
# window is 30 buckets, a day 8,640.
MAX_BUCKET_SECONDS = 10


@dataclass(frozen=True, slots=True)
class SloDefinition:
    """An objective over a window, its SLI, and the burn-rate tiers that alert on it.

    Construction validates, so a definition read back from a row is checked too.
    """

    slo_id: str
    tenant_id: str
    scope: Scope
    objective: float
    window: TimeWindow
    alerting: AlertPolicy
    indicator: Indicator = field(default_factory=Indicator)
    name: str = ""
    budgeting: BudgetingMethod = BudgetingMethod.OCCURRENCES
    # Timeslices: a slice is good when its good-event ratio reaches this.
    timeslice_target: float = 0.0
    timeslice_seconds: int = 0
    display_name: str = ""
    description: str = ""
    # Routing labels (team, ...) carried onto alerts; sorted (key, value) pairs.
    labels: tuple[tuple[str, str], ...] = ()
    # OpenSLO parts Portico does not interpret (metric sources, metadata), as
    # JSON, so an imported SLO exports as it came; opaque to the domain.
    openslo: str = ""

    def __post_init__(self) -> None:
        for name in ("slo_id", "tenant_id"):
            if not getattr(self, name):
                raise InvalidSloDefinitionError(name, "must not be empty")
        if not self.name:
            object.__setattr__(self, "name", self.scope.default_name)
        if len(self.name) > MAX_NAME_LENGTH or not self.name.isprintable() or " " in self.name:
            raise InvalidSloDefinitionError(
                "name", f"must be 1..{MAX_NAME_LENGTH} printable characters without spaces"
            )
        if not (math.isfinite(self.objective) and 0 < self.objective < 1):
            raise InvalidObjectiveError("objective", f"{self.objective} is not between 0 and 1")
        object.__setattr__(self, "labels", tuple(sorted(dict(self.labels).items())))
        self._check_tiers()
        self._check_timeslices()

    # -- what callers read -------------------------------------------------------

    @property
    def plugin(self) -> str:
        return self.scope.plugin

    @property
    def version(self) -> str:
        return self.scope.version

    @property
    def window_seconds(self) -> int:
        return self.window.nominal_seconds

    @property
    def latency_threshold_ms(self) -> int:
        return self.indicator.latency_threshold_ms

    @property
    def error_budget(self) -> float:
        """The share of events (or slices) allowed to be bad over the window."""
        return 1 - self.objective

    @property
    def fastest(self) -> BurnRateTier:
        """The fastest enabled tier (the classic single rule's fields come from it).

        An SLO without tiers (a window too short for any) alerts on nothing;
        its classic fields describe a disabled rule over the whole window.
        """
        enabled = self.alerting.enabled
        if enabled or self.alerting.tiers:
            return enabled[0] if enabled else self.alerting.tiers[0]
        long = max(2, self.window_seconds)
        return BurnRateTier("none", Severity.PAGE, long, max(1, long // 12), 1.0, enabled=False)

    @property
    def burn_rate_threshold(self) -> float:
        return self.fastest.factor

    @property
    def short_window_seconds(self) -> int:
        return self.fastest.short_window_seconds

    @property
    def long_window_seconds(self) -> int:
        return self.fastest.long_window_seconds

    @property
    def min_events(self) -> int:
        return self.alerting.min_events

    @property
    def rule(self) -> str:
        """The fastest tier's rule in words, e.g. "burn rate >= 14.4 over 5m and 1h"."""
        return self.fastest.rule

    @property
    def team(self) -> str:
        return dict(self.labels).get("team", "")

    @property
    def bucket_seconds(self) -> int:
        return bucket_seconds_for(self)

    # -- building ---------------------------------------------------------------

    @classmethod
    def with_defaults(
        cls,
        *,
        slo_id: str,
        tenant_id: str,
        plugin: str,
        version: str,
        objective: float,
        window_seconds: int = 0,
        latency_threshold_ms: int = 0,
        burn_rate_threshold: float = 0.0,
        short_window_seconds: int = 0,
        long_window_seconds: int = 0,
        min_events: int = 0,
    ) -> SloDefinition:
        """The classic CreateSlo fields, where 0 means "not set" as in proto3.

        With no alerting field set the SLO gets the workbook's four tiers scaled
        to its window; setting the threshold or a window asks for one tier of
        the caller's own (unset parts default to 14.4 over 5m and 1h).
        """
        window = TimeWindow.rolling_seconds(window_seconds or DEFAULT_WINDOW_SECONDS)
        events = min_events or DEFAULT_MIN_EVENTS
        if min_events < 0:
            raise InvalidSloDefinitionError("min_events", f"{min_events} is below 1")
        if burn_rate_threshold or short_window_seconds or long_window_seconds:
            short = short_window_seconds or DEFAULT_SHORT_WINDOW_SECONDS
            long = long_window_seconds or DEFAULT_LONG_WINDOW_SECONDS
            threshold = burn_rate_threshold or DEFAULT_BURN_RATE_THRESHOLD
            _check_classic_windows(short, long, window.nominal_seconds)
            if not (math.isfinite(threshold) and threshold > 0):
                raise InvalidObjectiveError("burn_rate_threshold", f"{threshold} is not positive")
            alerting = AlertPolicy.single(
                factor=threshold,
                short_window_seconds=short,
                long_window_seconds=long,
                min_events=events,
            )
        else:
            alerting = AlertPolicy.workbook(window.nominal_seconds, min_events=events)
        return cls(
            slo_id=slo_id,
            tenant_id=tenant_id,
            scope=Scope(ScopeKind.VERSION, plugin, version) if plugin else _no_plugin(),
            objective=objective,
            window=window,
            alerting=alerting,
            indicator=Indicator.of_threshold(latency_threshold_ms),
        )

    # -- validation -------------------------------------------------------------

    def _check_tiers(self) -> None:
        ceiling = 1 / self.error_budget
        for tier in self.alerting.enabled:
            if tier.long_window_seconds > self.window_seconds:
                raise InvalidWindowError(
                    "long_window_seconds",
                    f"{tier.long_window_seconds} is longer than the SLO window "
                    f"{self.window_seconds}",
                )
            # With every event bad the burn rate is 1 / budget; a higher factor never trips.
            if not at_least(ceiling, tier.factor):
                raise InvalidObjectiveError(
                    "burn_rate_threshold",
                    f"{tier.factor:g} ({tier.name}) can never trip: with objective "
                    f"{self.objective:g} the burn rate is at most {ceiling:g}; disable the tier "
                    "or lower its factor",
                )

    def _check_timeslices(self) -> None:
        if self.budgeting is BudgetingMethod.OCCURRENCES:
            if self.timeslice_seconds or self.timeslice_target:
                raise InvalidSloDefinitionError(
                    "timeslice_window", "only Timeslices and RatioTimeslices budgets have slices"
                )
            return
        slice_seconds = self.timeslice_seconds
        if slice_seconds <= 0:
            raise InvalidSloDefinitionError(
                "timeslice_window", f"{self.budgeting} budgeting needs a time-slice window"
            )
        misfits = [format_duration(w) for w in self.alerting.windows if w % slice_seconds] + (
            [] if self.window_seconds % slice_seconds == 0 else ["the SLO window"]
        )
        if misfits:
            raise InvalidSloDefinitionError(
                "timeslice_window",
                f"{format_duration(slice_seconds)} slices do not divide {', '.join(misfits)}",
            )
        if self.budgeting is BudgetingMethod.TIMESLICES and not (0 < self.timeslice_target <= 1):
            raise InvalidSloDefinitionError(
                "timeslice_target", f"{self.timeslice_target} is not in (0, 1]"
            )


def bucket_seconds_for(definition: SloDefinition) -> int:
    """The bucket outcomes are counted in.

    A time slice is one bucket, so slices are judged bucket by bucket. Else the
    largest size up to MAX_BUCKET_SECONDS that every alerting window is a whole
    number of; windows under 30 s (canaries) get 1 s buckets.
    """
    if definition.timeslice_seconds:
        return definition.timeslice_seconds
    windows = definition.alerting.windows or (definition.fastest.short_window_seconds,)
    if min(windows) < 30:
        return 1
    return math.gcd(*windows, MAX_BUCKET_SECONDS)


def _check_classic_windows(short: int, long: int, window: int) -> None:
    if short <= 0:
        raise InvalidWindowError("short_window_seconds", f"{short} is not positive")
    if short >= long:
        raise InvalidWindowError(
            "short_window_seconds", f"{short} is not shorter than the long window {long}"
        )
    if long > window:
        raise InvalidWindowError(
            "long_window_seconds", f"{long} is longer than the SLO window {window}"
        )


def _no_plugin() -> Scope:
    raise InvalidSloDefinitionError("plugin", "must not be empty")
