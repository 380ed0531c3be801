"""The `portico` command keeps asyncio's TLS half-close warning off the user's terminal."""

from __future__ import annotations

import logging

import pytest

from portico_cli.main import TlsEofNoise


def test_only_the_tls_half_close_warning_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    noise = TlsEofNoise()
    asyncio_log = logging.getLogger("asyncio")
    asyncio_log.addFilter(noise)
    try:
        with caplog.at_level(logging.WARNING, logger="asyncio"):
            asyncio_log.warning("returning true from eof_received() has no effect when using ssl")
            asyncio_log.warning("Task was destroyed but it is pending!")
    finally:
        asyncio_log.removeFilter(noise)
    assert [r.getMessage() for r in caplog.records] == ["Task was destroyed but it is pending!"]
