"""The audit trail of a rollout, stored as a JSONB array next to its columns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from portico_rollout.domain._time import require_aware
from portico_rollout.errors import InvalidRolloutError


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One thing that happened to a rollout: when, what kind, and a readable detail."""

    at: datetime
    kind: str
    detail: str = ""

    def __post_init__(self) -> None:
        require_aware(self.at, "history entry time")

    def to_json(self) -> dict[str, str]:
        """A JSON-ready mapping; the time is ISO 8601 with its offset."""
        return {"at": self.at.isoformat(), "kind": self.kind, "detail": self.detail}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> HistoryEntry:
        """Rebuild an entry from `to_json` output, rejecting anything malformed."""
        at, kind, detail = data.get("at"), data.get("kind"), data.get("detail", "")
        if not isinstance(at, str) or not isinstance(kind, str) or not isinstance(detail, str):
            raise InvalidRolloutError("history", f"malformed entry {dict(data)!r}")
        try:
            parsed = datetime.fromisoformat(at)
        except ValueError as exc:
            raise InvalidRolloutError("history", f"bad time {at!r}") from exc
        return cls(at=parsed, kind=kind, detail=detail)
