"""Platform passes over every place of a service's rows: the shared schema, bridges, silos.

An `ALL_TENANTS` transaction opens in one place (docs/tenancy-isolation.md):
the shared tables by default. A scheduler that scans with `ALL_TENANTS` runs
its pass once per place with `each_place`: inside a pass,
`Database.transaction(ALL_TENANTS)` opens in the pass's place (a context
variable, so tasks the pass starts keep it), and the tenant transactions the
pass opens go to each tenant's place as always. The use cases stay as they
are: they scan "every tenant" of whatever place they are run in.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from portico_common.db import Place, platform_place

log = logging.getLogger(__name__)

T = TypeVar("T")

__all__ = ["PlaceLister", "each_place", "platform_place"]

# Lists a service's places (`Database.places`); None: the shared tables only
# (the in-memory adapters, which have one place).
PlaceLister = Callable[[], Awaitable[Sequence[Place]]]


async def each_place(places: PlaceLister | None, run: Callable[[], Awaitable[T]]) -> list[T]:
    """Runs `run` once per place, with ALL_TENANTS transactions opening in that place.

    A place that fails (a silo database down) does not keep the others from
    their pass: every place runs, then the first failure is raised for the
    caller's loop to log and retry. Returns each place's result, in order.
    """
    if places is None:
        return [await run()]
    results: list[T] = []
    failure: Exception | None = None
    for place in await places():
        token = platform_place.set(place)
        try:
            results.append(await run())
        except Exception as exc:  # noqa: BLE001 - the other places still get their pass
            log.warning(
                "a platform pass failed in one place",
                extra={"tier": str(place.tier), "location": place.location, "error": str(exc)},
            )
            failure = failure or exc
        finally:
            platform_place.reset(token)
    if failure is not None:
        raise failure
    return results
