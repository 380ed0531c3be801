"""The Vault Transit KMS (HashiCorp Vault or OpenBao), through `hvac`.

One transit key (`aes256-gcm96`, `derived`), so each wrapped data key is
encrypted under a key derived from its context (tenant and version): a
wrapped key moved to another tenant does not decrypt. Vault keeps the KEK
versions; `rotate` is `transit/keys/<name>/rotate`, `rewrap` is
`transit/rewrap` (Vault never returns the data key for it). The wrapped form
is Vault's own ciphertext string (`vault:v<N>:...`) as bytes. hvac is
synchronous, so calls run in a worker thread.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import Any, TypeVar

import hvac
import hvac.exceptions
import requests

from portico_common.crypto.kms import KmsUnavailableError, KmsUnwrapError

T = TypeVar("T")


class VaultTransitKms:
    """KEK versions of one Vault Transit key."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        key_name: str = "portico-tenant-keys",
        mount_point: str = "transit",
        timeout_seconds: float = 10.0,
    ) -> None:
        self._client = hvac.Client(url=url, token=token, timeout=timeout_seconds)
        self._key = key_name
        self._mount = mount_point
        self.url = url

    @property
    def name(self) -> str:
        return "vault-transit"

    async def ensure_key(self) -> None:
        """Creates the transit key (derived, AES-256-GCM) unless it exists."""

        def ensure() -> None:
            transit = self._client.secrets.transit
            try:
                transit.read_key(name=self._key, mount_point=self._mount)
            except hvac.exceptions.InvalidPath:
                transit.create_key(
                    name=self._key, key_type="aes256-gcm96", derived=True, mount_point=self._mount
                )

        await self._call(ensure)

    async def wrap(self, data_key: bytes, context: bytes) -> bytes:
        reply = await self._call(
            lambda: self._client.secrets.transit.encrypt_data(
                name=self._key,
                plaintext=_b64(data_key),
                context=_b64(context),
                mount_point=self._mount,
            )
        )
        return str(reply["data"]["ciphertext"]).encode()

    async def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        self.kek_version(wrapped)
        reply = await self._call(
            lambda: self._client.secrets.transit.decrypt_data(
                name=self._key,
                ciphertext=wrapped.decode(),
                context=_b64(context),
                mount_point=self._mount,
            )
        )
        return base64.b64decode(reply["data"]["plaintext"])

    async def rewrap(self, wrapped: bytes, context: bytes) -> bytes:
        self.kek_version(wrapped)
        reply = await self._call(
            lambda: self._client.secrets.transit.rewrap_data(
                name=self._key,
                ciphertext=wrapped.decode(),
                context=_b64(context),
                mount_point=self._mount,
            )
        )
        return str(reply["data"]["ciphertext"]).encode()

    async def rotate(self) -> int:
        def rotate() -> int:
            transit = self._client.secrets.transit
            transit.rotate_key(name=self._key, mount_point=self._mount)
            key = transit.read_key(name=self._key, mount_point=self._mount)
            return int(key["data"]["latest_version"])

        return await self._call(rotate)

    def kek_version(self, wrapped: bytes) -> int:
        parts = wrapped.split(b":", 2)
        if len(parts) != 3 or parts[0] != b"vault" or not parts[1][1:].isdigit():
            raise KmsUnwrapError("not a data key wrapped by Vault Transit")
        return int(parts[1][1:])

    async def _call(self, call: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(call)
        except hvac.exceptions.InvalidRequest as exc:
            # Vault's answer to a ciphertext that does not decrypt under the context.
            raise KmsUnwrapError(f"Vault Transit refused the key: {_first(exc)}") from None
        except (hvac.exceptions.VaultError, requests.RequestException) as exc:
            raise KmsUnavailableError(
                f"Vault Transit at {self.url} failed: {type(exc).__name__}: {_first(exc)}"
            ) from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _first(exc: Any) -> str:
    errors = getattr(exc, "errors", None)
    return str(errors[0]) if errors else str(exc).splitlines()[0] if str(exc) else ""
