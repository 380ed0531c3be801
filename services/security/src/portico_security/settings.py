"""Settings of the security service (env prefix PORTICO_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from portico_common.settings import ServiceSettings

MIB = 1024 * 1024


class SecuritySettings(ServiceSettings):
    grpc_port: int = 50063
    # The largest tarball VerifyArtifact accepts. The tarball travels in one
    # gRPC message, so the transport's receive limit bounds it as well.
    max_artifact_bytes: int = Field(default=50 * MIB, gt=0)
    # Provenance (VerifyProvenance): the Sigstore trusted root to verify
    # against offline (default: the public-good root sigstore-python ships)
    # and npm's registry keys in the format of its /-/npm/v1/keys document.
    provenance_trusted_root: Path | None = None
    provenance_npm_keys: Path | None = None
    provenance_verifier_timeout_seconds: float = Field(default=30.0, gt=0)
    # How many Node.js verifier processes may run at once; more calls wait their turn.
    provenance_verifier_max_processes: int = Field(default=4, ge=1)
    # npm's registry signing keys, in the format of registry.npmjs.org/-/npm/v1/keys
    # (e.g. a saved copy of it). Unset: a VerifyArtifact that carries a registry
    # signature is rejected with "no npm registry keys are configured".
    npm_registry_keys_file: Path | None = None
    # Advisories (ImportAdvisories from_configured_sources): a directory of
    # OSV JSON files and/or an OSV feed URL (JSON, or a zip like osv.dev's
    # npm/all.zip). Trust signals: an HTTP endpoint (GET <url>/<package>)
    # or a JSON file {"<package>": {...}}; neither: every package is unknown.
    advisory_dir: str = ""
    advisory_feed_url: str = ""
    registry_signals_url: str = ""
    registry_signals_file: str = ""
    # How often pending install approvals are checked against their deadlines.
    install_approval_tick_seconds: float = Field(default=1.0, gt=0)
    # host:port of compat (GetDeclaredResources, PORTICO_SECURITY_COMPAT_TARGET): an
    # install's quota hold takes the CPU and memory the version declared in compat's
    # latest check next to its plugin. Empty: installs hold one plugin only.
    security_compat_target: str = ""
    security_compat_timeout_seconds: float = Field(default=5.0, gt=0)
