"""A tenant's resource quota and its current usage.

Both are replaced whole on each change, never adjusted by deltas: a quota is
what the platform team decides, usage is the absolute totals of what is
installed now (derived by tenancy from its reservations, which install and
rollout events settle; see reservations.py). Each change bumps a per-tenant
`revision`, carried in the event, so a projection elsewhere can apply
updates in order and ignore a stale one delivered late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from portico_tenancy.errors import InvalidQuotaError

# Far beyond any real tenant (a million cores, an exbibyte), low enough that
# every figure fits a bigint and sums of a few of them cannot overflow.
MAX_AMOUNT = 10**12
MAX_PLUGINS = 1_000_000


@dataclass(frozen=True, slots=True)
class Resources:
    """An amount of compute and storage: CPU in millicores, memory and storage in MiB."""

    cpu_millicores: int = 0
    memory_mib: int = 0
    storage_mib: int = 0

    def __post_init__(self) -> None:
        for name in ("cpu_millicores", "memory_mib", "storage_mib"):
            _require_amount(name, getattr(self, name), MAX_AMOUNT)


@dataclass(frozen=True, slots=True)
class Quota:
    """What a tenant may use at most, how many plugins it may install and roll out at once."""

    tenant_id: str
    limits: Resources
    max_plugins: int
    revision: int
    updated_at: datetime
    # How many rollouts may run at once; None: no limit.
    max_rollouts: int | None = None

    def __post_init__(self) -> None:
        _require_amount("max_plugins", self.max_plugins, MAX_PLUGINS)
        if self.max_rollouts is not None:
            _require_amount("max_rollouts", self.max_rollouts, MAX_PLUGINS)

    @classmethod
    def replacing(  # noqa: PLR0917 - the quota's fields, in the dataclass's order
        cls,
        previous: Quota | None,
        tenant_id: str,
        limits: Resources,
        max_plugins: int,
        now: datetime,
        max_rollouts: int | None = None,
    ) -> Quota:
        """The tenant's new quota, one revision after `previous` (or the first)."""
        return cls(tenant_id, limits, max_plugins, _next(previous), now, max_rollouts)


@dataclass(frozen=True, slots=True)
class Usage:
    """What a tenant uses now: resources and installed plugins, derived from its reservations."""

    tenant_id: str
    used: Resources
    plugins: int
    revision: int
    updated_at: datetime

    def __post_init__(self) -> None:
        _require_amount("plugins", self.plugins, MAX_PLUGINS)

    @classmethod
    def replacing(
        cls, previous: Usage | None, tenant_id: str, used: Resources, plugins: int, now: datetime
    ) -> Usage:
        """The tenant's new usage, one revision after `previous` (or the first)."""
        return cls(tenant_id, used, plugins, _next(previous), now)


def _next(previous: Quota | Usage | None) -> int:
    return 1 if previous is None else previous.revision + 1


def _require_amount(name: str, value: int, maximum: int) -> None:
    # bool is an int subclass; True as "1 millicore" would be a caller's bug.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidQuotaError(f"{name} must be an integer, not {value!r}")
    if not 0 <= value <= maximum:
        raise InvalidQuotaError(f"{name} must be between 0 and {maximum}, not {value}")
