"""Sticky assignment: which version a given user sees during a rollout.

A user's bucket depends only on (tenant, plugin, version, user), and a user is
in the canary iff bucket < percent * 100. Since phases only grow, a user who
got the new version keeps it as the share grows. The version is in the hash,
so each release picks its own cohorts: the same users do not take the risk of
every release of a plugin, while within one release (and its retries) the
cohort stays fixed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from portico_rollout.domain.rollout import Rollout
from portico_rollout.domain.state import RolloutState
from portico_rollout.errors import InvalidBucketError

BUCKETS = 10_000


def bucket_for(tenant_id: str, plugin: str, version: str, user_id: str) -> int:
    """A bucket in [0, 10000) for this user and plugin version, the same in every process.

    sha256 rather than hash(), which is salted per process. Each part is
    length-prefixed so ("ab", "c") and ("a", "bc") cannot collide.
    """
    digest = hashlib.sha256()
    for part in (tenant_id, plugin, version, user_id):
        encoded = part.encode()
        digest.update(len(encoded).to_bytes(4, "big"))
        digest.update(encoded)
    # 64 bits modulo 10^4: the bias is below 10^-15, far under sampling noise.
    return int.from_bytes(digest.digest()[:8], "big") % BUCKETS


@dataclass(frozen=True, slots=True)
class Resolution:
    """The version a user sees, whether that is the canary, and the canary's share."""

    version: str
    in_canary: bool
    percent: int


def resolve(rollout: Rollout | None, stable_version: str, bucket: int) -> Resolution:
    """Answer which version the user in `bucket` sees.

    `stable_version` is what serves outside the canary ("" if nothing is
    installed). Once completed the new version is the stable one for everyone,
    so nobody counts as "in the canary" any more.
    """
    if not 0 <= bucket < BUCKETS:
        raise InvalidBucketError(bucket)
    if rollout is None:
        return Resolution(version=stable_version, in_canary=False, percent=0)
    if rollout.state is RolloutState.COMPLETED:
        return Resolution(version=rollout.version, in_canary=False, percent=100)
    percent = rollout.percent
    if bucket < percent * (BUCKETS // 100):
        return Resolution(version=rollout.version, in_canary=True, percent=percent)
    return Resolution(version=stable_version, in_canary=False, percent=percent)
