"""Errors of the embedded infrastructure."""

from __future__ import annotations

from portico_common.errors import PorticoError


class LauncherError(PorticoError):
    """Infrastructure could not be started."""
