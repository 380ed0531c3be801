"""Quota reservations: what an install or a rollout holds against the tenant's quota.

A claim is admitted only if what the tenant's live reservations hold plus the
claim fits its quota, in every dimension the claim asks for (plugins,
concurrent rollouts, CPU, memory). A dimension the claim does not ask for is
not checked: a tenant already over its memory quota may still start a
rollout, which claims no memory. A tenant without a quota is not limited;
its reservations are still recorded, so its usage is known when a quota comes.

Life of a reservation: HELD while the install or rollout is under way;
an install's becomes IN_USE when its version went live (the tenant's usage
from then on); RELEASED after a rejection, an expiry, a rollback, a refusal,
an uninstall or an explicit release. Released is final.

A hold is *confirmed* once the work it was taken for is recorded by its
owner (security stored the install request, rollout created the rollout):
from then on the outcome events of that work settle it. A hold never
confirmed belongs to a caller that stopped between Reserve and its own
commit; it expires once it is older than the hold time to live, so such a
crash cannot keep quota taken forever.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from portico_tenancy.domain.quota import MAX_AMOUNT, MAX_PLUGINS, Quota
from portico_tenancy.errors import InvalidReservationError

MAX_RESERVATION_ID = 200
MAX_REASON = 500


class ReservationKind(StrEnum):
    INSTALL = "install"
    ROLLOUT = "rollout"


class ReservationState(StrEnum):
    HELD = "held"
    IN_USE = "in_use"
    RELEASED = "released"


@dataclass(frozen=True, slots=True)
class Amounts:
    """How much of each limited dimension a reservation holds."""

    plugins: int = 0
    rollouts: int = 0
    cpu_millicores: int = 0
    memory_mib: int = 0

    def __post_init__(self) -> None:
        for name, maximum in (
            ("plugins", MAX_PLUGINS),
            ("rollouts", MAX_PLUGINS),
            ("cpu_millicores", MAX_AMOUNT),
            ("memory_mib", MAX_AMOUNT),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidReservationError(f"{name} must be an integer, not {value!r}")
            if not 0 <= value <= maximum:
                raise InvalidReservationError(f"{name} must be between 0 and {maximum}")

    @classmethod
    def total(cls, amounts: Iterable[Amounts]) -> Amounts:
        result = cls()
        for a in amounts:
            result = Amounts(
                result.plugins + a.plugins,
                result.rollouts + a.rollouts,
                # Sums of live reservations stay below the bound: each was admitted under it.
                min(result.cpu_millicores + a.cpu_millicores, MAX_AMOUNT),
                min(result.memory_mib + a.memory_mib, MAX_AMOUNT),
            )
        return result


@dataclass(frozen=True, slots=True)
class Reservation:
    """One install's or rollout's hold on the tenant's quota."""

    tenant_id: str
    reservation_id: str
    kind: ReservationKind
    plugin: str
    version: str
    amounts: Amounts
    state: ReservationState
    reason: str
    created_at: datetime
    updated_at: datetime
    # When the owner recorded the work the hold is for; None while unconfirmed.
    confirmed_at: datetime | None = None

    @classmethod
    def held(  # noqa: PLR0917 - one argument per column of a new reservation
        cls,
        tenant_id: str,
        reservation_id: str,
        kind: ReservationKind,
        plugin: str,
        version: str,
        amounts: Amounts,
        now: datetime,
    ) -> Reservation:
        require_reservation_id(reservation_id)
        if kind is ReservationKind.INSTALL and not plugin:
            raise InvalidReservationError("an install reservation names its plugin")
        for name, value in (("plugin", plugin), ("version", version)):
            if len(value) > MAX_RESERVATION_ID or not value.isprintable():
                raise InvalidReservationError(f"{name} must be at most 200 printable characters")
        return cls(
            tenant_id,
            reservation_id,
            kind,
            plugin,
            version,
            amounts,
            ReservationState.HELD,
            "",
            now,
            now,
        )

    @property
    def live(self) -> bool:
        return self.state is not ReservationState.RELEASED

    def released(self, reason: str, now: datetime) -> Reservation:
        """This reservation released (itself when it already was: releasing is idempotent)."""
        if not self.live:
            return self
        return replace(
            self, state=ReservationState.RELEASED, reason=reason[:MAX_REASON], updated_at=now
        )

    def confirmed(self, now: datetime) -> Reservation:
        """This hold with its work recorded (itself when confirmed, in use or released)."""
        if self.state is not ReservationState.HELD or self.confirmed_at is not None:
            return self
        return replace(self, confirmed_at=now, updated_at=now)

    def expired(self, now: datetime, ttl: timedelta) -> bool:
        """True for a hold never confirmed that is older than `ttl` at `now`."""
        return (
            self.state is ReservationState.HELD
            and self.confirmed_at is None
            and self.created_at + ttl <= now
        )

    def in_use(self, now: datetime) -> Reservation:
        """This install reservation become usage (its version is live); released stays released."""
        if self.state is not ReservationState.HELD:
            return self
        return replace(self, state=ReservationState.IN_USE, updated_at=now)


def tombstone(tenant_id: str, reservation_id: str, reason: str, now: datetime) -> Reservation:
    """A release that arrived before its reservation: a later Reserve with the id is refused."""
    require_reservation_id(reservation_id)
    return Reservation(
        tenant_id,
        reservation_id,
        ReservationKind.INSTALL,
        "",
        "",
        Amounts(),
        ReservationState.RELEASED,
        reason[:MAX_REASON],
        now,
        now,
    )


def shortfalls(quota: Quota | None, held: Amounts, wanted: Amounts) -> list[str]:
    """Why `wanted` does not fit next to `held` under `quota` (empty: it fits)."""
    if quota is None:
        return []
    limits: list[tuple[str, int, int, int | None]] = [
        ("plugins", wanted.plugins, held.plugins, quota.max_plugins),
        ("concurrent rollouts", wanted.rollouts, held.rollouts, quota.max_rollouts),
        ("cpu_millicores", wanted.cpu_millicores, held.cpu_millicores, quota.limits.cpu_millicores),
        ("memory_mib", wanted.memory_mib, held.memory_mib, quota.limits.memory_mib),
    ]
    return [
        f"{name}: {want} wanted, {used} of {limit} held"
        for name, want, used, limit in limits
        if want > 0 and limit is not None and used + want > limit
    ]


def require_reservation_id(reservation_id: str) -> str:
    if (
        not reservation_id
        or len(reservation_id) > MAX_RESERVATION_ID
        or not reservation_id.isprintable()
    ):
        raise InvalidReservationError(
            f"reservation_id must be 1..{MAX_RESERVATION_ID} printable characters"
        )
    return reservation_id
