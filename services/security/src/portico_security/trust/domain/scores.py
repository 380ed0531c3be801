"""The trust score's inputs and result: weights, publisher evidence, registry signals,
factors with their evidence. Scoring itself is `scoring.py`'s."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from portico_security.trust.domain.advisories import Advisory, AdvisoryMatch
from portico_security.trust.errors import InvalidTrustWeightsError

FACTORS = ("publisher", "security_history", "community", "quality", "update_cadence")
MAX_WEIGHT = 100


@dataclass(frozen=True, slots=True)
class TrustWeights:
    publisher: int = 30
    security_history: int = 25
    community: int = 15
    quality: int = 15
    update_cadence: int = 15

    def __post_init__(self) -> None:
        values = self.as_dict()
        for name, value in values.items():
            if not isinstance(value, int) or not 0 <= value <= MAX_WEIGHT:
                raise InvalidTrustWeightsError(f"{name} must be an integer 0-{MAX_WEIGHT}")
        if sum(values.values()) == 0:
            raise InvalidTrustWeightsError("at least one weight must be above 0")

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in FACTORS}


DEFAULT_WEIGHTS = TrustWeights()


@dataclass(frozen=True, slots=True)
class PublisherEvidence:
    """What verification established about who published the artifact."""

    identity_verified: bool = False
    signature_verified: bool = False
    key_created_at: datetime | None = None
    provenance_verified: bool = False
    slsa_level: int = 0


@dataclass(frozen=True, slots=True)
class Release:
    version: str
    published_at: datetime


@dataclass(frozen=True, slots=True)
class PackageSignals:
    """Registry and repository signals of a package (from a registry adapter)."""

    weekly_downloads: int = 0
    dependents: int = 0
    stars: int = 0
    contributors: int = 0
    has_tests: bool = False
    has_ci: bool = False
    has_lint: bool = False
    has_types: bool = False
    has_docs: bool = False
    license: str = ""
    security_policy: bool = False
    repository: str = ""
    deprecated: bool = False
    archived: bool = False
    releases: tuple[Release, ...] = ()


@dataclass(frozen=True, slots=True)
class Evidence:
    signal: str
    value: str
    points: int
    scorecard_check: str = ""


@dataclass(frozen=True, slots=True)
class Factor:
    name: str
    score: int
    weight: int
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True, slots=True)
class TrustInputs:
    plugin: str
    version: str
    now: datetime
    publisher: PublisherEvidence
    # None: the registry knows nothing about the package.
    signals: PackageSignals | None
    # Every advisory naming the plugin, whichever versions it covers.
    advisories: tuple[Advisory, ...] = ()
    # Open advisories in the plugin's resolved dependencies.
    dependency_matches: tuple[AdvisoryMatch, ...] = ()


@dataclass(frozen=True, slots=True)
class TrustScore:
    score: int
    factors: tuple[Factor, ...]
    weights: TrustWeights
    inputs_digest: str = field(default="")
