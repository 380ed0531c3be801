"""What a plugin version declared it needs to run, as compat recorded it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DeclaredResources:
    """CPU and memory a version declared in compat's latest recorded check for the tenant.

    These are the quota dimensions an install holds next to its one plugin.
    """

    cpu_millicores: int
    memory_mib: int

    def __post_init__(self) -> None:
        if self.cpu_millicores < 0 or self.memory_mib < 0:
            raise ValueError("declared resources are never negative")
