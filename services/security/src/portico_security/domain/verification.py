"""The verdict on an artifact: every check run, every failure explained.

The use case streams the tarball through an IntegrityHasher and looks up the
publisher key; this module only judges. All checks run even after one fails,
so a rejection lists every reason at once instead of one per attempt.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from portico_security.domain.integrity import IntegrityHasher, parse_integrity
from portico_security.domain.package_names import package_name_problems, version_problem
from portico_security.domain.signatures import (
    ED25519_SIGNATURE_SIZE,
    PublisherKey,
    signed_message,
    verify_signature,
)
from portico_security.errors import InvalidArtifactError, InvalidIntegrityError


class Verdict(StrEnum):
    """The outcome of verifying an artifact."""

    VERIFIED = "VERIFIED"
    REJECTED = "REJECTED"


class CheckName(StrEnum):
    """The checks a verification runs, in the order it reports them."""

    PACKAGE_NAME = "package-name"
    SIZE = "size"
    INTEGRITY = "integrity"
    PUBLISHER_KEY = "publisher-key"
    SIGNATURE = "signature"


@dataclass(frozen=True, slots=True)
class Check:
    """One check's result; `detail` says what was found, in a sentence."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True, slots=True)
class VerificationReport:
    """The verdict and the checks it rests on."""

    verdict: Verdict
    checks: tuple[Check, ...]

    @property
    def reasons(self) -> tuple[str, ...]:
        """The details of the failed checks, in check order; empty when verified."""
        return tuple(check.detail for check in self.checks if not check.passed)


@dataclass(frozen=True, slots=True)
class ArtifactClaim:
    """What the caller says an artifact is; verification decides whether it is true."""

    tenant_id: str
    plugin: str
    version: str
    integrity: str
    signature: bytes
    key_id: str
    size: int

    def __post_init__(self) -> None:
        if not self.tenant_id.strip():
            raise InvalidArtifactError("tenant_id", "must not be empty")
        # bool is an int subclass; True as "1 byte" would be a silent bug.
        if isinstance(self.size, bool) or self.size < 0:
            raise InvalidArtifactError("size", f"must be a byte count >= 0, got {self.size!r}")


def hasher_for(claim: ArtifactClaim) -> IntegrityHasher | None:
    """The hasher to stream the tarball through, or None if the claimed integrity is unreadable.

    With None there is nothing to compare against, so the tarball need not be
    read at all; verify_artifact then rejects with the integrity's problem.
    """
    try:
        return IntegrityHasher(claim.integrity)
    except InvalidIntegrityError:
        return None


def verify_artifact(
    claim: ArtifactClaim,
    hasher: IntegrityHasher | None,
    key: PublisherKey | None,
    *,
    max_size: int,
) -> VerificationReport:
    """Judge `claim` given the streamed tarball's `hasher` and the looked-up `key`.

    `hasher` is None when the claimed integrity could not be parsed (see
    hasher_for); `key` is None when no key with the claimed id is registered.
    """
    if max_size <= 0:
        raise ValueError(f"max_size must be positive, got {max_size}")
    key_check = _publisher_key_check(claim, key)
    checks = (
        _package_name_check(claim),
        _size_check(claim, hasher, max_size),
        _integrity_check(claim, hasher),
        key_check,
        _signature_check(claim, key if key_check.passed else None),
    )
    verdict = Verdict.VERIFIED if all(c.passed for c in checks) else Verdict.REJECTED
    return VerificationReport(verdict=verdict, checks=checks)


def _package_name_check(claim: ArtifactClaim) -> Check:
    problems = [f"{claim.plugin!r}: {p}" for p in package_name_problems(claim.plugin)]
    problem = version_problem(claim.version)
    if problem is not None:
        problems.append(f"version {claim.version!r}: {problem}")
    if problems:
        return Check(CheckName.PACKAGE_NAME, passed=False, detail="; ".join(problems))
    detail = f"{claim.plugin}@{claim.version} is a valid npm name and exact version"
    return Check(CheckName.PACKAGE_NAME, passed=True, detail=detail)


def _size_check(claim: ArtifactClaim, hasher: IntegrityHasher | None, max_size: int) -> Check:
    if hasher is None:
        passed = claim.size <= max_size
        limit = "within" if passed else "over"
        detail = (
            f"the claim declares {claim.size} bytes, {limit} the {max_size}-byte limit "
            "(not measured: the tarball was not hashed)"
        )
        return Check(CheckName.SIZE, passed=passed, detail=detail)
    received = hasher.size
    if received > max_size:
        detail = f"the tarball is {received} bytes, over the {max_size}-byte limit"
        return Check(CheckName.SIZE, passed=False, detail=detail)
    if received != claim.size:
        detail = (
            f"received {received} bytes but the claim declares {claim.size} "
            "(truncated or altered upload)"
        )
        return Check(CheckName.SIZE, passed=False, detail=detail)
    detail = f"{received} bytes, within the {max_size}-byte limit"
    return Check(CheckName.SIZE, passed=True, detail=detail)


def _integrity_check(claim: ArtifactClaim, hasher: IntegrityHasher | None) -> Check:
    try:
        claimed = parse_integrity(claim.integrity)
    except InvalidIntegrityError as error:
        return Check(CheckName.INTEGRITY, passed=False, detail=str(error))
    if hasher is None or hasher.expected != claimed:
        # A hasher for another digest would compare the tarball with the wrong thing.
        detail = f"the tarball was not hashed against the claimed integrity {claimed}"
        return Check(CheckName.INTEGRITY, passed=False, detail=detail)
    if not hasher.matches():
        detail = f"the tarball hashes to {hasher.actual_sri()}, not the claimed {claimed}"
        return Check(CheckName.INTEGRITY, passed=False, detail=detail)
    return Check(CheckName.INTEGRITY, passed=True, detail=f"the tarball matches {claimed}")


def _publisher_key_check(claim: ArtifactClaim, key: PublisherKey | None) -> Check:
    if key is None:
        detail = f"no publisher key {claim.key_id!r} is registered for tenant {claim.tenant_id!r}"
        return Check(CheckName.PUBLISHER_KEY, passed=False, detail=detail)
    if key.tenant_id != claim.tenant_id:
        # Keys are tenant-scoped; a key of another tenant vouches for nothing here.
        detail = f"publisher key {key.key_id!r} belongs to another tenant"
        return Check(CheckName.PUBLISHER_KEY, passed=False, detail=detail)
    if key.key_id != claim.key_id:
        detail = f"the key looked up is {key.key_id!r}, not the claimed {claim.key_id!r}"
        return Check(CheckName.PUBLISHER_KEY, passed=False, detail=detail)
    detail = f"{key.algorithm} key {key.key_id!r} of publisher {key.publisher!r}"
    return Check(CheckName.PUBLISHER_KEY, passed=True, detail=detail)


def _signature_check(claim: ArtifactClaim, key: PublisherKey | None) -> Check:
    if key is None:
        detail = "not verified: there is no usable publisher key"
        return Check(CheckName.SIGNATURE, passed=False, detail=detail)
    if not claim.signature:
        return Check(CheckName.SIGNATURE, passed=False, detail="no signature was supplied")
    if len(claim.signature) != ED25519_SIGNATURE_SIZE:
        detail = (
            f"the signature is {len(claim.signature)} bytes; "
            f"an Ed25519 signature is {ED25519_SIGNATURE_SIZE}"
        )
        return Check(CheckName.SIGNATURE, passed=False, detail=detail)
    message = signed_message(claim.plugin, claim.version, claim.integrity)
    shown = message.decode("utf-8", errors="replace")
    if not verify_signature(key, message, claim.signature):
        detail = f"the signature over {shown!r} does not verify under key {key.key_id!r}"
        return Check(CheckName.SIGNATURE, passed=False, detail=detail)
    detail = f"Ed25519 signature by key {key.key_id!r} over {shown!r}"
    return Check(CheckName.SIGNATURE, passed=True, detail=detail)
