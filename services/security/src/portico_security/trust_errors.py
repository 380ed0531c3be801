"""Errors of advisories and trust scores (kept apart from errors.py, which the
verification work shares, so parallel edits do not collide)."""

from __future__ import annotations

from collections.abc import Sequence

from portico_security.errors import SecurityError


class InvalidAdvisoryError(SecurityError):
    """An OSV document breaks the schema at a named place."""

    code = "INVALID_ARGUMENT"

    def __init__(self, origin: str, path: str, problem: str) -> None:
        super().__init__(f"{origin}: {path}: {problem}")
        self.origin = origin
        self.path = path
        self.problem = problem


class InvalidAdvisoryBatchError(SecurityError):
    """At least one document of a batch is invalid; nothing of the batch was imported."""

    code = "INVALID_ARGUMENT"

    def __init__(self, errors: Sequence[InvalidAdvisoryError]) -> None:
        shown = "; ".join(str(e) for e in errors[:20])
        more = f"; and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(
            f"{len(errors)} invalid advisory document(s), nothing imported: {shown}{more}"
        )
        self.errors = tuple(errors)


class AdvisorySourceError(SecurityError):
    """A configured advisory directory or feed could not be read."""

    code = "UNAVAILABLE"

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"advisory source {source}: {problem}")
        self.source = source
        self.problem = problem


class PlatformOnlyError(SecurityError):
    """Only a platform (all-tenants) caller may change platform data such as advisories."""

    code = "PERMISSION_DENIED"

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} needs a platform token")


class InvalidTrustWeightsError(SecurityError):
    """Trust weights out of range, or all zero."""

    code = "INVALID_ARGUMENT"

    def __init__(self, problem: str) -> None:
        super().__init__(f"invalid trust weights: {problem}")
        self.problem = problem


class SignalSourceError(SecurityError):
    """The registry-signals source answered with something unusable."""

    code = "UNAVAILABLE"

    def __init__(self, package: str, problem: str) -> None:
        super().__init__(f"registry signals for {package!r}: {problem}")
        self.package = package
        self.problem = problem


class TrustScoreNotFoundError(SecurityError):
    """No stored trust verdict with this id for the tenant."""

    code = "NOT_FOUND"

    def __init__(self, tenant_id: str, score_id: str) -> None:
        super().__init__(f"no trust score {score_id!r} for tenant {tenant_id!r}")
        self.tenant_id = tenant_id
        self.score_id = score_id
