"""What serves a tenant's plugin right now: the routing rule the read path answers from.

An Assignment is everything ResolveVersion needs for one (tenant, plugin):
the stable version, the canary version with its share and state, and the
rollout behind it. It is derived from the rollout and the stable-version row,
and it is small and immutable, so a process can hold every tenant's in memory
and replace one atomically when it changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from portico_rollout.domain.rollout import Rollout
from portico_rollout.domain.state import RolloutState
from portico_rollout.errors import InvalidBucketError

BUCKETS = 10_000
# Buckets per percentage point: a user is in a p% canary iff bucket < p * 100.
_PER_PERCENT = BUCKETS // 100

PluginKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Resolution:
    """The version a user sees, whether that is the canary, and the canary's share."""

    version: str
    in_canary: bool
    percent: int


@dataclass(frozen=True, slots=True)
class Assignment:
    """How one plugin of one tenant is served; every field empty means "not installed"."""

    tenant_id: str
    plugin: str
    # What serves everyone outside a canary ("" when nothing is installed).
    stable_version: str = ""
    # The rollout not finished yet, if any, and the version it brings.
    rollout_id: str = ""
    canary_version: str = ""
    state: RolloutState | None = None
    # The canary's share of users in percent (0 unless the canary is live).
    percent: int = 0

    @property
    def key(self) -> PluginKey:
        return (self.tenant_id, self.plugin)

    @classmethod
    def of(cls, tenant_id: str, plugin: str, rollout: Rollout | None, stable: str) -> Assignment:
        """The assignment a rollout not finished (or none) and the stable version make.

        A rollout records the stable version it runs over, which is what its
        users outside the canary see; without one the stable-version row says.
        """
        if rollout is None:
            return cls(tenant_id, plugin, stable_version=stable)
        return cls(
            tenant_id,
            plugin,
            stable_version=rollout.stable_version,
            rollout_id=rollout.rollout_id,
            canary_version=rollout.version,
            state=rollout.state,
            percent=rollout.percent,
        )

    def ended(self, rollout_id: str, stable_version: str | None) -> Assignment:
        """This assignment once `rollout_id` serves nobody; `stable_version` None: unchanged.

        A rollout that ended never serves again, so applying this twice, or
        late, is harmless: an assignment of another rollout is left alone.
        """
        if not self.rollout_id or self.rollout_id != rollout_id:
            return self
        stable = self.stable_version if stable_version is None else stable_version
        return Assignment(self.tenant_id, self.plugin, stable_version=stable)

    def resolve(self, bucket: int) -> Resolution:
        """The version the user in `bucket` sees: sticky, because phases only grow."""
        if not 0 <= bucket < BUCKETS:
            raise InvalidBucketError(bucket)
        if self.state is RolloutState.COMPLETED:
            # Completed, the new version is the stable one: nobody is "in the canary".
            return Resolution(self.canary_version, in_canary=False, percent=100)
        if self.canary_version and bucket < self.percent * _PER_PERCENT:
            return Resolution(self.canary_version, in_canary=True, percent=self.percent)
        return Resolution(self.stable_version, in_canary=False, percent=self.percent)
