"""Install's artifact verifier, served by the verification context's use case.

The decision is recorded and announced by verification (its own transaction
and events), exactly as a VerifyArtifact call would; install then reads which
publisher the claimed key belongs to.
"""

from __future__ import annotations

from portico_security.install.app.ports import VerifiedArtifact
from portico_security.verification.app.commands import VerifyArtifact
from portico_security.verification.app.ports import (
    ProvenanceVerification,
    VerificationUowFactory,
)
from portico_security.verification.app.verify import verify_artifact
from portico_security.verification.domain.registry_signatures import RegistryKeys


class VerificationService:
    """Verifies with verification's use case, under the service's configured limits and keys."""

    def __init__(
        self,
        uow: VerificationUowFactory,
        *,
        max_artifact_bytes: int,
        registry_keys: RegistryKeys | None = None,
        provenance: ProvenanceVerification | None = None,
    ) -> None:
        self._uow = uow
        self._max_artifact_bytes = max_artifact_bytes
        self._registry_keys = registry_keys
        self._provenance = provenance

    async def verify(self, command: VerifyArtifact) -> VerifiedArtifact:
        verification = await verify_artifact(
            self._uow,
            command,
            max_size=self._max_artifact_bytes,
            registry_keys=self._registry_keys,
            provenance=self._provenance,
        )
        async with self._uow(command.tenant_id) as tx:
            key = (
                await tx.publisher_keys.get(command.tenant_id, command.key_id)
                if command.key_id
                else None
            )
        return VerifiedArtifact(verification, key.publisher if key is not None else "")
