"""Errors of advisories and trust scores.

Each concrete error extends one of the kernel's categories, which names the
gRPC status an entrypoint maps it to.
"""

from __future__ import annotations

from collections.abc import Sequence

from portico_common.errors import (
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    PorticoError,
    UnavailableError,
)


class TrustError(PorticoError):
    """Base of every trust error."""


class InvalidAdvisoryError(TrustError, InvalidArgumentError):
    """An OSV document breaks the schema at a named place."""

    def __init__(self, origin: str, path: str, problem: str) -> None:
        super().__init__(f"{origin}: {path}: {problem}")
        self.origin = origin
        self.path = path
        self.problem = problem


class InvalidAdvisoryBatchError(TrustError, InvalidArgumentError):
    """At least one document of a batch is invalid; nothing of the batch was imported."""

    def __init__(self, errors: Sequence[InvalidAdvisoryError]) -> None:
        shown = "; ".join(str(e) for e in errors[:20])
        more = f"; and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(
            f"{len(errors)} invalid advisory document(s), nothing imported: {shown}{more}"
        )
        self.errors = tuple(errors)


class InvalidTrustWeightsError(TrustError, InvalidArgumentError):
    """Trust weights out of range, or all zero."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"invalid trust weights: {problem}")
        self.problem = problem


class InvalidTrustRequestError(TrustError, InvalidArgumentError):
    """An advisory or trust request lacks what it needs to be processed; nothing changed."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid request {field}: {problem}")
        self.field = field
        self.problem = problem


class TrustScoreNotFoundError(TrustError, NotFoundError):
    """No stored trust verdict with this id for the tenant."""

    def __init__(self, tenant_id: str, score_id: str) -> None:
        super().__init__(f"no trust score {score_id!r} for tenant {tenant_id!r}")
        self.tenant_id = tenant_id
        self.score_id = score_id


class PlatformOnlyError(TrustError, PermissionDeniedError):
    """Only a platform (all-tenants) caller may change platform data such as advisories."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} needs a platform token")


class AdvisorySourceError(TrustError, UnavailableError):
    """A configured advisory directory or feed could not be read."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"advisory source {source}: {problem}")
        self.source = source
        self.problem = problem


class SignalSourceError(TrustError, UnavailableError):
    """The registry-signals source answered with something unusable."""

    def __init__(self, package: str, problem: str) -> None:
        super().__init__(f"registry signals for {package!r}: {problem}")
        self.package = package
        self.problem = problem
