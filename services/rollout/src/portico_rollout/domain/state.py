"""The states of a rollout and the moves between them."""

from __future__ import annotations

from enum import StrEnum


class RolloutState(StrEnum):
    """Where a rollout is; the value is what the database stores."""

    AWAITING_CHECKS = "AWAITING_CHECKS"
    IN_PROGRESS = "IN_PROGRESS"
    # An operator stopped the share from changing; violations still roll it back.
    PAUSED = "PAUSED"
    # A gradual rollback: the share steps down through the phases already passed.
    ROLLING_BACK = "ROLLING_BACK"
    COMPLETED = "COMPLETED"
    ROLLED_BACK = "ROLLED_BACK"
    REFUSED = "REFUSED"

    @property
    def is_terminal(self) -> bool:
        """True once the rollout is finished: no longer its plugin's rollout under way.

        A completed rollout can still be rolled back (a version it needs went
        back), yet it is finished: another rollout of the plugin may start.
        """
        return self in (RolloutState.COMPLETED, RolloutState.ROLLED_BACK, RolloutState.REFUSED)

    @property
    def serves(self) -> bool:
        """True while some users get the new version and it can still be rolled back."""
        return self in (RolloutState.IN_PROGRESS, RolloutState.PAUSED, RolloutState.ROLLING_BACK)

    def can_move_to(self, target: RolloutState) -> bool:
        """True if the state machine allows going from this state to `target`."""
        return target in _ALLOWED[self]


_ALLOWED: dict[RolloutState, frozenset[RolloutState]] = {
    RolloutState.AWAITING_CHECKS: frozenset({RolloutState.IN_PROGRESS, RolloutState.REFUSED}),
    RolloutState.IN_PROGRESS: frozenset(
        {
            RolloutState.COMPLETED,
            RolloutState.ROLLED_BACK,
            RolloutState.PAUSED,
            RolloutState.ROLLING_BACK,
        }
    ),
    RolloutState.PAUSED: frozenset(
        {RolloutState.IN_PROGRESS, RolloutState.ROLLED_BACK, RolloutState.ROLLING_BACK}
    ),
    # PAUSED: a step would go back onto a stable version with a critical advisory.
    RolloutState.ROLLING_BACK: frozenset({RolloutState.ROLLED_BACK, RolloutState.PAUSED}),
    # The version serves everyone, and goes back when a version it needs does.
    RolloutState.COMPLETED: frozenset({RolloutState.ROLLED_BACK}),
    RolloutState.ROLLED_BACK: frozenset(),
    RolloutState.REFUSED: frozenset(),
}
