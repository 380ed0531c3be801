"""SecuritySettings: defaults and environment overrides."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from portico_security.settings import SecuritySettings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """Security listens on 50063 and accepts tarballs up to 50 MiB unless told otherwise."""
    monkeypatch.delenv("PORTICO_GRPC_PORT", raising=False)
    monkeypatch.delenv("PORTICO_MAX_ARTIFACT_BYTES", raising=False)
    settings = SecuritySettings()

    assert settings.grpc_port == 50063
    assert settings.max_artifact_bytes == 50 * 1024 * 1024


def test_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """PORTICO_MAX_ARTIFACT_BYTES sets the limit; zero or less is refused at start-up."""
    monkeypatch.setenv("PORTICO_MAX_ARTIFACT_BYTES", "1000")
    assert SecuritySettings().max_artifact_bytes == 1000

    monkeypatch.setenv("PORTICO_MAX_ARTIFACT_BYTES", "0")
    with pytest.raises(ValidationError, match="max_artifact_bytes"):
        SecuritySettings()
