"""The tenant: the unit of isolation for everything else in Portico, and its lifecycle.

States: provisioning -> active <-> suspended; active or suspended -> deleting
(restorable to the state it left until `delete_after`) -> deleted once every
service reported its data deleted. Each move returns the event it emits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from portico_common.tenants import require_tenant_id
from portico_tenancy.domain.events import (
    TenantActivated,
    TenantDeleted,
    TenantDeletionCancelled,
    TenantDeletionRequested,
    TenantDeletionScheduled,
    TenantResumed,
    TenantSuspended,
    TenantUpdated,
)
from portico_tenancy.errors import InvalidTenantError, TenantStateError

MAX_DISPLAY_NAME = 200
MAX_PLAN = 64
MAX_CONTACTS = 10
MAX_LABELS = 32
MAX_REASON = 500
_LABEL_KEY = re.compile(r"^[a-z0-9]([a-z0-9._/-]{0,61}[a-z0-9])?$")
_CONTACT = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,63}$")


class TenantState(StrEnum):
    """Where a tenant is; the value is what the database stores."""

    PROVISIONING = "provisioning"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DELETING = "deleting"
    DELETED = "deleted"

    @property
    def refuses_tokens(self) -> bool:
        """True when every service refuses the tenant's tokens."""
        return self in REFUSED_STATES


class Isolation(StrEnum):
    """Where the tenant's rows live in every service (docs/tenancy-isolation.md)."""

    POOL = "pool"  # the shared tables, under row-level security
    BRIDGE = "bridge"  # a schema of its own in each service's database
    SILO = "silo"  # a database of its own

    @property
    def needs_placement(self) -> bool:
        """True when the privileged placer must make the tenant's place first."""
        return self is not Isolation.POOL


REFUSED_STATES = frozenset({TenantState.SUSPENDED, TenantState.DELETING, TenantState.DELETED})


@dataclass(frozen=True)
class TenantQuery:
    """What ListTenants filters on; every field given must match."""

    state: TenantState | None = None
    plan: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    def matches(self, tenant: Tenant) -> bool:
        return (
            (self.state is None or tenant.state is self.state)
            and (self.plan is None or tenant.plan == self.plan)
            and all(tenant.labels.get(k) == v for k, v in self.labels.items())
        )


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    display_name: str
    created_at: datetime
    state: TenantState = TenantState.ACTIVE
    plan: str = ""
    owner_contacts: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    state_changed_at: datetime | None = None
    suspension_reason: str = ""
    # While deleting: the state to restore, and when the grace period ends.
    restore_to: TenantState | None = None
    delete_after: datetime | None = None
    # Set once the services were asked to delete the tenant's data.
    deletion_requested_at: datetime | None = None
    updated_at: datetime | None = None
    isolation: Isolation = Isolation.POOL
    # When every service had the tenant's place (the placer's report; pool: at creation).
    placed_at: datetime | None = None
    placement_location: str = ""
    # The placer's last failure and how many times it tried (its report, read only here).
    placement_error: str = ""
    placement_attempts: int = 0
    # After a failure: when the placer tries again (its report, read only here).
    placement_retry_at: datetime | None = None
    # When its cluster provisioning finished (or at creation, when it needs none).
    provisioned_at: datetime | None = None

    @classmethod
    def create(
        cls,
        tenant_id: str,
        display_name: str,
        now: datetime,
        *,
        provisioned: bool = True,
        isolation: Isolation = Isolation.POOL,
    ) -> Tenant:
        """A new tenant, validated; raises InvalidTenantIdError or InvalidTenantError.

        It starts `provisioning` when a provisioning job will activate it or
        when it must be placed (bridge, silo), else `active` at once: it is
        active once both are done.
        """
        require_tenant_id(tenant_id)
        placed = None if isolation.needs_placement else now
        ready = provisioned and placed is not None
        return cls(
            tenant_id,
            _display_name(display_name, tenant_id),
            now,
            state=TenantState.ACTIVE if ready else TenantState.PROVISIONING,
            state_changed_at=now,
            updated_at=now,
            isolation=isolation,
            placed_at=placed,
            provisioned_at=now if provisioned else None,
        )

    @property
    def placement_status(self) -> str:
        """ "placed", "failed" (the placer's last try failed; it tries again) or "pending"."""
        if self.placed_at is not None:
            return "placed"
        return "failed" if self.placement_error else "pending"

    # ---- metadata --------------------------------------------------------------

    def update(
        self,
        now: datetime,
        *,
        display_name: str | None = None,
        plan: str | None = None,
        owner_contacts: Iterable[str] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> tuple[Tenant, TenantUpdated]:
        """The tenant with the given metadata replaced (None: unchanged)."""
        self._require_not(TenantState.DELETED, "update")
        changed = replace(
            self,
            display_name=self.display_name
            if display_name is None
            else _display_name(display_name, self.tenant_id),
            plan=self.plan if plan is None else _plan(plan),
            owner_contacts=self.owner_contacts
            if owner_contacts is None
            else _contacts(owner_contacts),
            labels=self.labels if labels is None else _labels(labels),
            updated_at=now,
        )
        return changed, TenantUpdated(
            tenant_id=self.tenant_id,
            display_name=changed.display_name,
            plan=changed.plan,
            labels=dict(changed.labels),
            at=now,
        )

    # ---- the lifecycle ---------------------------------------------------------

    def activate(self, now: datetime) -> tuple[Tenant, TenantActivated | None]:
        """Cluster provisioning finished: active, once placed too (else it waits for that).

        A tenant past provisioning stays as it is (no event).
        """
        if self.state is not TenantState.PROVISIONING:
            return self, None
        provisioned = self if self.provisioned_at else replace(self, provisioned_at=now)
        return provisioned._activate_when_ready(now)

    def placed(self, now: datetime) -> tuple[Tenant, TenantActivated | None]:
        """The placer reported the tenant's place: active, once provisioned too."""
        if self.placed_at is None:
            raise TenantStateError(f"tenant {self.tenant_id!r} is not placed yet")
        if self.state is not TenantState.PROVISIONING:
            return self, None
        return self._activate_when_ready(now)

    def _activate_when_ready(self, now: datetime) -> tuple[Tenant, TenantActivated | None]:
        if self.placed_at is None or self.provisioned_at is None:
            # Saved as it is: the step that finished is remembered, the state waits.
            return replace(self, updated_at=now), None
        return self._move(TenantState.ACTIVE, now), TenantActivated(
            tenant_id=self.tenant_id,
            state=TenantState.ACTIVE,
            at=now,
            isolation=self.isolation.value,
        )

    def suspend(self, reason: str, now: datetime) -> tuple[Tenant, TenantSuspended]:
        """Refuses the tenant's tokens from now on; only an active tenant can be suspended."""
        reason = reason.strip()
        if not reason or len(reason) > MAX_REASON or not reason.isprintable():
            raise InvalidTenantError(f"reason is required: 1..{MAX_REASON} printable characters")
        self._require(TenantState.ACTIVE, "suspend")
        moved = replace(self._move(TenantState.SUSPENDED, now), suspension_reason=reason)
        return moved, TenantSuspended(
            tenant_id=self.tenant_id, state=moved.state, reason=reason, at=now
        )

    def resume(self, now: datetime) -> tuple[Tenant, TenantResumed]:
        """A suspended tenant becomes active again."""
        self._require(TenantState.SUSPENDED, "resume")
        moved = replace(self._move(TenantState.ACTIVE, now), suspension_reason="")
        return moved, TenantResumed(tenant_id=self.tenant_id, state=moved.state, at=now)

    def schedule_deletion(
        self, grace: timedelta, now: datetime
    ) -> tuple[Tenant, TenantDeletionScheduled]:
        """Deleting from now on; the data goes at now + grace unless restored before."""
        if self.state not in (TenantState.ACTIVE, TenantState.SUSPENDED):
            raise TenantStateError(
                f"cannot delete tenant {self.tenant_id!r}: it is {self.state}"
                " (only an active or suspended tenant can be deleted)"
            )
        delete_after = now + grace
        moved = replace(
            self._move(TenantState.DELETING, now),
            restore_to=self.state,
            delete_after=delete_after,
        )
        return moved, TenantDeletionScheduled(
            tenant_id=self.tenant_id, state=moved.state, delete_after=delete_after, at=now
        )

    def restore(self, now: datetime) -> tuple[Tenant, TenantDeletionCancelled]:
        """Cancels the deletion while its grace period runs and the data still exists."""
        self._require(TenantState.DELETING, "restore")
        if self.deletion_requested_at is not None:
            raise TenantStateError(
                f"cannot restore tenant {self.tenant_id!r}: its grace period ended at"
                f" {_iso(self.delete_after)} and the services are deleting its data"
            )
        back = self.restore_to or TenantState.ACTIVE
        moved = replace(self._move(back, now), restore_to=None, delete_after=None)
        return moved, TenantDeletionCancelled(tenant_id=self.tenant_id, state=back, at=now)

    def request_deletion(
        self, services: Iterable[str], now: datetime
    ) -> tuple[Tenant, TenantDeletionRequested]:
        """The grace period is over: the services are asked to delete the tenant's data."""
        self._require(TenantState.DELETING, "request the deletion of")
        if self.deletion_requested_at is not None:
            raise TenantStateError(f"the deletion of tenant {self.tenant_id!r} was requested")
        if self.delete_after is None or now < self.delete_after:
            raise TenantStateError(
                f"the grace period of tenant {self.tenant_id!r} runs until"
                f" {_iso(self.delete_after)}"
            )
        moved = replace(self, deletion_requested_at=now, updated_at=now)
        return moved, TenantDeletionRequested(
            tenant_id=self.tenant_id, state=self.state, services=tuple(services), at=now
        )

    def finish_deletion(self, now: datetime) -> tuple[Tenant, TenantDeleted]:
        """Every service reported: only this record of the tenant remains."""
        self._require(TenantState.DELETING, "finish the deletion of")
        if self.deletion_requested_at is None:
            raise TenantStateError(
                f"the deletion of tenant {self.tenant_id!r} was not requested yet"
            )
        moved = replace(self._move(TenantState.DELETED, now), restore_to=None)
        return moved, TenantDeleted(tenant_id=self.tenant_id, state=moved.state, at=now)

    # ---- internals -------------------------------------------------------------

    def _move(self, target: TenantState, now: datetime) -> Tenant:
        return replace(self, state=target, state_changed_at=now, updated_at=now)

    def _require(self, state: TenantState, action: str) -> None:
        if self.state is not state:
            raise TenantStateError(
                f"cannot {action} tenant {self.tenant_id!r}: it is {self.state}, not {state}"
            )

    def _require_not(self, state: TenantState, action: str) -> None:
        if self.state is state:
            raise TenantStateError(f"cannot {action} tenant {self.tenant_id!r}: it is {state}")


def _iso(at: datetime | None) -> str:
    return "?" if at is None else at.isoformat()


def _display_name(display_name: str, tenant_id: str) -> str:
    name = display_name.strip() or tenant_id
    if len(name) > MAX_DISPLAY_NAME or not name.isprintable():
        raise InvalidTenantError(f"display_name must be 1..{MAX_DISPLAY_NAME} printable characters")
    return name


def _plan(plan: str) -> str:
    plan = plan.strip()
    if len(plan) > MAX_PLAN or not plan.isprintable():
        raise InvalidTenantError(f"plan must be at most {MAX_PLAN} printable characters")
    return plan


def _contacts(contacts: Iterable[str]) -> tuple[str, ...]:
    found = tuple(dict.fromkeys(c.strip() for c in contacts))
    if len(found) > MAX_CONTACTS:
        raise InvalidTenantError(f"owner_contacts: at most {MAX_CONTACTS}")
    bad = [c for c in found if not _CONTACT.match(c)]
    if bad:
        raise InvalidTenantError(f"owner_contacts must be e-mail addresses; not: {bad}")
    return found


def _labels(labels: Mapping[str, str]) -> dict[str, str]:
    if len(labels) > MAX_LABELS:
        raise InvalidTenantError(f"labels: at most {MAX_LABELS}")
    for key, value in labels.items():
        if not _LABEL_KEY.match(key):
            raise InvalidTenantError(
                f"label key {key!r} must be 1..63 of [a-z0-9._/-], starting and ending alphanumeric"
            )
        if len(value) > 63 or not value.isprintable():
            raise InvalidTenantError(
                f"label {key!r}: value must be at most 63 printable characters"
            )
    return dict(sorted(labels.items()))
