"""Fixtures for auth's integration tests: real PostgreSQL and NATS, auth run in-process."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest
from pydantic import SecretStr

from portico_auth.bootstrap import run
from portico_auth.settings import AuthSettings
from portico_embedded.testing.databases import ServiceDatabaseUrl
from portico_embedded.testing.services import serving_in_process

ADMIN_SECRET = "admin-secret-0123456789"

RunningAuth = Callable[..., AbstractAsyncContextManager[int]]  # what `running_auth` gives


@pytest.fixture
async def auth_settings(
    service_database_url: ServiceDatabaseUrl, nats_url: str, kek: str
) -> Callable[..., AuthSettings]:
    """Settings for an in-process auth on port 0, as its own role, secrets given explicitly."""
    url = await service_database_url("auth")

    def make(**changes: object) -> AuthSettings:
        values: dict[str, object] = {
            "database_url": SecretStr(url),
            "nats_url": nats_url,
            "grpc_port": 0,
            "metrics_port": -1,
            "auth_target": "",
            "auth_admin_client_secret": SecretStr(ADMIN_SECRET),
            "auth_key_encryption_key": SecretStr(kek),
        }
        values.update(changes)
        return AuthSettings.model_validate(values)

    return make


@pytest.fixture
def running_auth(auth_settings: Callable[..., AuthSettings]) -> RunningAuth:
    """`async with running_auth(**changes) as port:` auth's real `run`, until the block ends."""

    def start(**changes: object) -> AbstractAsyncContextManager[int]:
        return serving_in_process(run, auth_settings(**changes))

    return start


@pytest.fixture
def admin_secret() -> str:
    """The admin client's secret in `auth_settings`."""
    return ADMIN_SECRET
