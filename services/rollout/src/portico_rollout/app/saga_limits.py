"""How the saga runner paces itself: what one pass takes on, and how a failing step backs off.

A step that fails (compat or security unreachable, a conflict, a database
error) waits before its next attempt: after its n-th failure in a row it
waits between half and all of min(retry_max, retry_initial * 2**(n-1))
seconds ("equal jitter"). The random half spreads the sagas one outage
failed together, so they do not all come back on the same pass; the fixed
half keeps the wait growing. It never gives up: a rollback must finish, so a
step whose cause persists is tried again every retry_max/2 to retry_max.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from tenacity import RetryCallState, Retrying, wait_exponential, wait_random_exponential

# tenacity's wait strategies read the attempt number off a call's state; the
# runner keeps the count in the database, so it builds that state itself.
_NO_RETRYING = Retrying()


@dataclass(frozen=True, slots=True)
class SagaLimits:
    """How much one pass of the saga runner does, and how long a failed step waits."""

    # Sagas per pass, and at most this many of one tenant.
    batch: int = 50
    per_tenant: int = 5
    # Steps of one saga per pass: a saga with many dependents goes on in the next
    # pass, after the other tenants' sagas had their turn.
    steps_per_saga: int = 20
    # The wait after a step's first failure, and the most it grows to.
    retry_initial_seconds: float = 1.0
    retry_max_seconds: float = 60.0

    def __post_init__(self) -> None:
        if min(self.batch, self.per_tenant, self.steps_per_saga) < 1:
            raise ValueError("saga limits: batch, per_tenant and steps_per_saga must be >= 1")
        if not 0 < self.retry_initial_seconds <= self.retry_max_seconds:
            raise ValueError(
                "saga limits: need 0 < retry_initial_seconds <= retry_max_seconds, got"
                f" {self.retry_initial_seconds} and {self.retry_max_seconds}"
            )

    def retry_delay(self, failed_attempts: int) -> timedelta:
        """How long a step waits after its `failed_attempts`-th failure in a row (>= 1)."""
        if failed_attempts < 1:
            raise ValueError(f"failed_attempts must be >= 1, got {failed_attempts}")
        half, cap = self.retry_initial_seconds / 2, self.retry_max_seconds / 2
        wait = wait_exponential(multiplier=half, max=cap) + wait_random_exponential(
            multiplier=half, max=cap
        )
        state = RetryCallState(_NO_RETRYING, None, (), {})
        state.attempt_number = failed_attempts
        return timedelta(seconds=wait(state))
