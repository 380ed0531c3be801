"""Errors the alerting context raises on purpose, each in one kernel category."""

from __future__ import annotations

from portico_common.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PorticoError,
    UnavailableError,
)


class AlertingError(PorticoError):
    """Base of every alerting error."""


class InvalidAlertingError(AlertingError, InvalidArgumentError):
    """A field of a route, matcher, silence or channel is malformed; the message names it."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid {field}: {problem}")
        self.field = field
        self.problem = problem


class InvalidMatcherError(InvalidAlertingError):
    """A label matcher has a bad label name, operator or regular expression."""


class InvalidRouteError(InvalidAlertingError):
    """The routing tree breaks a rule (root with matchers, unknown receiver, zero interval)."""


class InvalidSilenceError(InvalidAlertingError):
    """A silence has no useful matcher, or its times are impossible."""


class InvalidChannelError(InvalidAlertingError):
    """A channel's settings or secrets are missing or malformed."""


class ChannelNotFoundError(AlertingError, NotFoundError):
    """No channel with this id exists for the tenant."""

    def __init__(self, channel_id: str) -> None:
        super().__init__(f"channel {channel_id} not found")
        self.channel_id = channel_id


class ChannelAlreadyExistsError(AlertingError, AlreadyExistsError):
    """The tenant has a channel with this name already."""

    def __init__(self, name: str) -> None:
        super().__init__(f"a channel named {name!r} exists already")
        self.name = name


class ChannelInUseError(AlertingError, FailedPreconditionError):
    """The routing tree still sends to the channel, so it cannot be deleted."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"channel {name!r} is a receiver of the routing tree; change the tree first"
        )
        self.name = name


class ChannelSecretsUnavailableError(AlertingError, FailedPreconditionError):
    """No key to seal channel secrets with is configured."""

    def __init__(self) -> None:
        super().__init__(
            "channel secrets cannot be stored: they are sealed with the tenant's data key from"
            " tenancy, and PORTICO_TENANCY_TARGET is not set"
        )


class ChannelSecretsUnreadableError(AlertingError, FailedPreconditionError):
    """Stored channel secrets do not open: wrong or destroyed key, or a tampered row."""

    def __init__(self, channel_id: str, why: str = "") -> None:
        super().__init__(
            f"secrets of channel {channel_id} cannot be decrypted: "
            + (
                why
                or "PORTICO_SLO_CHANNEL_SECRET_KEY is not the key they were stored with"
                " (or the row was tampered with)"
            )
        )
        self.channel_id = channel_id


class SilenceNotFoundError(AlertingError, NotFoundError):
    """No silence with this id exists for the tenant."""

    def __init__(self, silence_id: str) -> None:
        super().__init__(f"silence {silence_id} not found")
        self.silence_id = silence_id


class DeliveryFailedError(AlertingError, UnavailableError):
    """A channel did not take a notification; the message never holds a secret.

    `retryable` is False for answers a retry cannot change (a 4xx other than
    408 and 429, a refused address), as Alertmanager's notifiers decide.
    """

    def __init__(self, message: str, *, retryable: bool, status_code: int = 0) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status_code = status_code


class AlertingConfigurationError(AlertingError, InternalError):
    """A setting of the alerting context is unusable; the message says which and why."""
