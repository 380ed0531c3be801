"""Stand-ins for trust's outside world: registry signals and advisory sources held in memory."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from portico_security.trust.app.ports import RawDocument
from portico_security.trust.domain.scores import PackageSignals


class FixedSignals:
    """Knows the packages it was given; records every package it was asked about."""

    def __init__(self, known: Mapping[str, PackageSignals]) -> None:
        self.known = dict(known)
        self.asked: list[str] = []

    async def signals(self, package: str) -> PackageSignals | None:
        self.asked.append(package)
        return self.known.get(package)


class StaticAdvisorySource:
    """An advisory source that always answers the same documents."""

    def __init__(self, name: str, documents: Sequence[RawDocument]) -> None:
        self._name = name
        self._documents = list(documents)

    @property
    def name(self) -> str:
        return self._name

    async def fetch(self) -> list[RawDocument]:
        return list(self._documents)
