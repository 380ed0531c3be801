"""Settings of the security service (env prefix PORTICO_)."""

from __future__ import annotations

from pydantic import Field

from portico_common.settings import ServiceSettings

MIB = 1024 * 1024


class SecuritySettings(ServiceSettings):
    grpc_port: int = 50063
    # The largest tarball VerifyArtifact accepts. The tarball travels in one
    # gRPC message, so the transport's receive limit bounds it as well.
    max_artifact_bytes: int = Field(default=50 * MIB, gt=0)
