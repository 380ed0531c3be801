"""The verdict on an artifact: every check run, every failure explained.

The use case streams the tarball through an IntegrityHasher and looks up the
publisher key; this module only judges. All checks run even after one fails,
so a rejection lists every reason at once instead of one per attempt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from portico_common.npm import package_name_problems, version_problem
from portico_security.verification.domain.integrity import IntegrityHasher, parse_integrity
from portico_security.verification.domain.keys import key_problem
from portico_security.verification.domain.registry_signatures import (
    RegistryKeys,
    registry_signature_problem,
)
from portico_security.verification.domain.signatures import (
    ED25519_SIGNATURE_SIZE,
    KeyAlgorithm,
    PublisherKey,
    signed_message,
    verify_signature,
)
from portico_security.verification.errors import InvalidArtifactError, InvalidIntegrityError


class Verdict(StrEnum):
    """The outcome of verifying an artifact."""

    VERIFIED = "VERIFIED"
    REJECTED = "REJECTED"


class CheckName(StrEnum):
    """The checks a verification runs, in the order it reports them."""

    PACKAGE_NAME = "package-name"
    SIZE = "size"
    INTEGRITY = "integrity"
    PUBLISHED_AT = "published-at"
    PUBLISHER_KEY = "publisher-key"
    SIGNATURE = "signature"
    REGISTRY_SIGNATURE = "registry-signature"
    VERSION_PIN = "version-pin"


# The checks every verification runs, in report order; PUBLISHED_AT joins them
# when the claim carries a publish time, REGISTRY_SIGNATURE when it carries an
# npm registry signature, VERSION_PIN when the tenant verified this version before.
ALWAYS_RUN = (
    CheckName.PACKAGE_NAME,
    CheckName.SIZE,
    CheckName.INTEGRITY,
    CheckName.PUBLISHER_KEY,
    CheckName.SIGNATURE,
)


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
    # When the registry says the version was published; None means "now".
    published_at: datetime | None = None
    # npm's registry signature (DER ECDSA P-256) and its keyid; empty: none sent.
    registry_signature: bytes = b""
    registry_key_id: str = ""

    def __post_init__(self) -> None:
        if not self.tenant_id.strip():
            raise InvalidArtifactError("tenant_id", "must not be empty")
        if self.published_at is not None and self.published_at.utcoffset() is None:
            raise InvalidArtifactError("published_at", "must be a timezone-aware datetime")
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
    now: datetime | None = None,
    registry_keys: RegistryKeys | None = None,
    pinned_integrity: str | None = None,
) -> VerificationReport:
    """Judge `claim` given the streamed tarball's `hasher` and the looked-up `key`.

    `hasher` is None when the claimed integrity could not be parsed (see
    hasher_for); `key` is None when no key with the claimed id is registered.
    Key expiry is judged at the claim's publish time, or at `now` without
    one (see domain/keys.py for the rule). The registry-signature check runs
    when the claim carries a registry signature or keyid, against
    `registry_keys`. `pinned_integrity` is the integrity of the tenant's first
    VERIFIED decision on this name@version, if any: npm versions are immutable,
    so other bytes presented under a verified version are refused (a replayed
    or substituted tarball), whatever signs them.
    """
    if max_size <= 0:
        raise ValueError(f"max_size must be positive, got {max_size}")
    at = now if now is not None else datetime.now(UTC)
    published = claim.published_at if claim.published_at is not None else at
    key_check = _publisher_key_check(claim, key, published)
    checks = [
        _package_name_check(claim),
        _size_check(claim, hasher, max_size),
        _integrity_check(claim, hasher),
    ]
    if claim.published_at is not None:
        checks.append(_published_at_check(claim.published_at, at))
    checks += [key_check, _signature_check(claim, key if key_check.passed else None)]
    if claim.registry_signature or claim.registry_key_id:
        checks.append(_registry_signature_check(claim, registry_keys, published))
    if pinned_integrity is not None:
        checks.append(_version_pin_check(claim, pinned_integrity))
    verdict = Verdict.VERIFIED if all(c.passed for c in checks) else Verdict.REJECTED
    return VerificationReport(verdict=verdict, checks=tuple(checks))


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


def _published_at_check(published_at: datetime, now: datetime) -> Check:
    if published_at > now:
        detail = (
            f"the claimed publish time {published_at.isoformat()} is in the future "
            f"(verified at {now.isoformat()})"
        )
        return Check(CheckName.PUBLISHED_AT, passed=False, detail=detail)
    detail = f"published at {published_at.isoformat()}"
    return Check(CheckName.PUBLISHED_AT, passed=True, detail=detail)


def _publisher_key_check(
    claim: ArtifactClaim, key: PublisherKey | None, published: datetime
) -> Check:
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
    problem = key_problem(key, published)
    if problem is not None:
        return Check(CheckName.PUBLISHER_KEY, passed=False, detail=problem)
    detail = f"{key.algorithm} key {key.key_id!r} of publisher {key.publisher!r}"
    return Check(CheckName.PUBLISHER_KEY, passed=True, detail=detail)


def _signature_check(claim: ArtifactClaim, key: PublisherKey | None) -> Check:
    if key is None:
        detail = "not verified: there is no usable publisher key"
        return Check(CheckName.SIGNATURE, passed=False, detail=detail)
    if not claim.signature:
        return Check(CheckName.SIGNATURE, passed=False, detail="no signature was supplied")
    if key.algorithm is KeyAlgorithm.ED25519 and len(claim.signature) != ED25519_SIGNATURE_SIZE:
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
    detail = f"{_ALGORITHM_NAMES[key.algorithm]} signature by key {key.key_id!r} over {shown!r}"
    return Check(CheckName.SIGNATURE, passed=True, detail=detail)


def _version_pin_check(claim: ArtifactClaim, pinned: str) -> Check:
    subject = f"{claim.plugin}@{claim.version}"
    if claim.integrity != pinned:
        detail = (
            f"{subject} was verified before as {pinned}; npm versions are immutable, "
            f"so {claim.integrity or 'no integrity'} under the same version is refused"
        )
        return Check(CheckName.VERSION_PIN, passed=False, detail=detail)
    detail = f"{subject} matches the integrity it was first verified with"
    return Check(CheckName.VERSION_PIN, passed=True, detail=detail)


_ALGORITHM_NAMES = {KeyAlgorithm.ED25519: "Ed25519", KeyAlgorithm.ECDSA_P256: "ECDSA P-256"}


def _registry_signature_check(
    claim: ArtifactClaim, keys: RegistryKeys | None, published: datetime
) -> Check:
    if not claim.registry_signature:
        detail = f"registry keyid {claim.registry_key_id!r} was sent without a signature"
        return Check(CheckName.REGISTRY_SIGNATURE, passed=False, detail=detail)
    problem = registry_signature_problem(
        keys,
        name=claim.plugin,
        version=claim.version,
        integrity=claim.integrity,
        key_id=claim.registry_key_id,
        signature=claim.registry_signature,
        published_at=published,
    )
    if problem is not None:
        return Check(CheckName.REGISTRY_SIGNATURE, passed=False, detail=problem)
    detail = f"npm registry signature by {claim.registry_key_id!r} verifies"
    return Check(CheckName.REGISTRY_SIGNATURE, passed=True, detail=detail)
