"""Errors of the `portico` CLI; each carries a message meant for the user."""

from __future__ import annotations


class CliError(Exception):
    """Something the user should be told about in one clear message."""


class NotRunningError(CliError):
    """No suite is running for this home."""


class StartupError(CliError):
    """A process of the suite could not be started or did not become healthy."""


class DemoError(CliError):
    """A step of the demo failed."""
