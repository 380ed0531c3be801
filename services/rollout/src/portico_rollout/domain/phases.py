"""The percentages of users a canary goes through."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from portico_rollout.errors import InvalidPhasesError

DEFAULT_PHASES: tuple[int, ...] = (10, 25, 50, 100)


def validate_phases(phases: Sequence[int]) -> tuple[int, ...]:
    """Return `phases` as a tuple, or raise InvalidPhasesError saying what is wrong.

    Strictly increasing is what makes sticky assignment sticky: a user's bucket
    stays below the threshold once it is below it. Ending at 100 is what makes
    completion mean "everyone has it".
    """
    result = tuple(phases)
    if not result:
        raise InvalidPhasesError(result, "at least one phase is needed")
    for percent in result:
        # bool is an int subclass; True as "1%" would be a silent bug.
        if isinstance(percent, bool) or not isinstance(percent, int):
            raise InvalidPhasesError(result, f"{percent!r} is not an integer percentage")
        if not 1 <= percent <= 100:
            raise InvalidPhasesError(result, f"{percent} is outside 1..100")
    for earlier, later in pairwise(result):
        if later <= earlier:
            raise InvalidPhasesError(result, f"{later} does not exceed {earlier}")
    if result[-1] != 100:
        raise InvalidPhasesError(result, "the last phase must be 100")
    return result
