"""The stored (JSON) form of a provenance report; versioned so old rows stay readable."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portico_security.verification.domain.provenance import (
    AttestationResult,
    BuildInfo,
    ProvenanceReport,
)

VERSION = 1


def report_to_json(report: ProvenanceReport) -> dict[str, Any]:
    return {
        "v": VERSION,
        "verified": report.verified,
        "predicate_type": report.predicate_type,
        "slsa_build_level": report.slsa_build_level,
        "build": {
            "builder_id": report.build.builder_id,
            "build_type": report.build.build_type,
            "source_repository": report.build.source_repository,
            "source_commit": report.build.source_commit,
        },
        "attestations": [
            {
                "predicate_type": a.predicate_type,
                "passed": a.passed,
                "detail": a.detail,
                "signer_identity": a.signer_identity,
                "signer_issuer": a.signer_issuer,
                "key_id": a.key_id,
            }
            for a in report.attestations
        ],
    }


def report_from_json(data: Mapping[str, Any]) -> ProvenanceReport:
    if data.get("v") != VERSION:
        raise ValueError(f"unknown stored provenance report version {data.get('v')!r}")
    build = data["build"]
    return ProvenanceReport(
        verified=bool(data["verified"]),
        predicate_type=str(data["predicate_type"]),
        slsa_build_level=int(data["slsa_build_level"]),
        build=BuildInfo(
            builder_id=str(build["builder_id"]),
            build_type=str(build["build_type"]),
            source_repository=str(build["source_repository"]),
            source_commit=str(build["source_commit"]),
        ),
        attestations=tuple(
            AttestationResult(
                predicate_type=str(a["predicate_type"]),
                passed=bool(a["passed"]),
                detail=str(a["detail"]),
                signer_identity=str(a["signer_identity"]),
                signer_issuer=str(a["signer_issuer"]),
                key_id=str(a["key_id"]),
            )
            for a in data["attestations"]
        ),
    )
