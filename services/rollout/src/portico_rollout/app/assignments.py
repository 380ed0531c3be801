"""The read path: which version a user sees, answered from memory, and pushed when it changes.

Ports: where assignments are read from (`AssignmentReader`, the database),
what announces that one may have changed (`ChangeFeed`, rollout's own
events), where traffic is sent (`TrafficRouter`: the in-memory view that
ResolveVersion and WatchAssignments answer from, and Gateway API HTTPRoutes),
and the view itself as the use cases see it (`AssignmentLookup`).
`AssignmentSync` (in `app.assignment_sync`) keeps the routers in step.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from portico_common.npm import require_package_name
from portico_common.tenants import require_tenant_id
from portico_rollout.domain.assignment import Assignment, PluginKey
from portico_rollout.domain.naming import validate_id
from portico_rollout.domain.sticky import bucket_for
from portico_rollout.errors import AssignmentsNotReadyError


class AssignmentReader(Protocol):
    """Assignments as the database has them now (the source of truth)."""

    async def all(self) -> list[Assignment]:
        """Every plugin of every tenant that is installed or has a rollout not finished."""

    async def of(self, keys: Collection[PluginKey]) -> list[Assignment]:
        """The assignments of these plugins; one that has none is left out."""


class TrafficRouter(Protocol):
    """Sends users to versions as assignments say (the resolve view, HTTPRoutes)."""

    async def route(self, changes: Sequence[Assignment], *, complete: bool = False) -> None:
        """Applies changed assignments; an empty one means the plugin is no longer installed.

        `complete` is True once, for the first build: `changes` then holds
        every assignment there is.
        """


@dataclass(frozen=True, slots=True)
class Ended:
    """A rollout that serves nobody any more, and what serves everyone now (None: unchanged).

    Applied to the view at once, before the plugin is read back: a rollback
    reaches resolves as fast as its event reaches the replica.
    """

    rollout_id: str
    stable_version: str | None


# Called with (tenant, plugin, ended) for each event that may change that plugin's
# assignment; `ended` is set when the event says its rollout ended.
OnChange = Callable[[str, str, Ended | None], None]
# Called when events may have been missed (the feed reconnected): everything is re-read.
OnGap = Callable[[], None]


class ChangeFeed(Protocol):
    """What tells a replica that an assignment may have changed: rollout's events."""

    def subscribe(self, on_change: OnChange, on_gap: OnGap) -> AbstractAsyncContextManager[None]:
        """Calls `on_change`/`on_gap` while the block runs; they must not block."""


class Watch(Protocol):
    """One watcher's feed of changed assignments, coalesced per plugin."""

    def current(self) -> list[Assignment]:
        """The watched assignments as they are now."""

    async def changes(self) -> list[Assignment] | None:
        """Waits for changes; None once the view closes (the service is stopping)."""


class AssignmentLookup(Protocol):
    """The in-memory view as the use cases read it."""

    @property
    def built(self) -> bool:
        """True once the view holds every assignment (until then nothing is answered)."""

    def get(self, tenant_id: str, plugin: str) -> Assignment | None: ...

    def watch(self, tenant_id: str, plugin: str = "") -> AbstractAsyncContextManager[Watch]:
        """Registers a watcher of a tenant's assignments (or one plugin's) for the block."""


@dataclass(frozen=True, slots=True)
class VersionAnswer:
    """Which version a user sees, and why."""

    version: str
    stable_version: str
    rollout_id: str
    bucket: int
    in_canary: bool
    percent: int


def resolve_version(
    view: AssignmentLookup, tenant_id: str, user_id: str, plugin: str
) -> VersionAnswer:
    """The version this user sees now: sticky inside a canary, else the stable version.

    Answered from memory; a plugin the view does not hold is not installed.
    Its input is checked as before, except that a (tenant, plugin) the view
    holds came from the database, so it is valid already and not checked again.
    """
    if not view.built:
        raise AssignmentsNotReadyError
    validate_id("user_id", user_id)
    assignment = view.get(tenant_id, plugin)
    if assignment is None:
        require_tenant_id(tenant_id)
        require_package_name(plugin, "plugin")
        assignment = Assignment(tenant_id, plugin)
    # The canary's version is in the hash, as on the database path: each release
    # picks its own cohort ("" when no rollout is unfinished).
    bucket = bucket_for(tenant_id, plugin, assignment.canary_version, user_id)
    answer = assignment.resolve(bucket)
    return VersionAnswer(
        version=answer.version,
        stable_version=assignment.stable_version,
        rollout_id=assignment.rollout_id,
        bucket=bucket,
        in_canary=answer.in_canary,
        percent=answer.percent,
    )


async def watch_assignments(
    view: AssignmentLookup, tenant_id: str, plugin: str = ""
) -> AsyncGenerator[list[Assignment], None]:
    """The tenant's assignments now (one plugin's if named), then each batch of changes.

    The first batch may be empty (nothing installed yet); later ones never
    are. It ends when the view closes, as the service stops.
    """
    require_tenant_id(tenant_id)
    if plugin:
        require_package_name(plugin, "plugin")
    if not view.built:
        raise AssignmentsNotReadyError
    async with view.watch(tenant_id, plugin) as watch:
        yield watch.current()
        while (changes := await watch.changes()) is not None:
            yield changes
