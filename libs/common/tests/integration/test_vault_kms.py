"""The Vault Transit KMS against a real OpenBao: wrap, unwrap, context binding, rotation, rewrap."""

from __future__ import annotations

import pytest

from portico_common.crypto.envelope import DataKey
from portico_common.crypto.kms import KmsUnavailableError, KmsUnwrapError, wrap_context
from portico_common.crypto.kms_vault import VaultTransitKms
from portico_embedded.openbao import OpenBaoServer

pytestmark = pytest.mark.integration


async def _kms(server: OpenBaoServer) -> VaultTransitKms:
    kms = VaultTransitKms(server.url, server.root_token)
    await kms.ensure_key()
    await kms.ensure_key()  # a second start finds the key and keeps it
    return kms


async def test_a_data_key_wraps_and_unwraps_under_its_tenant_only(
    openbao_server: OpenBaoServer,
) -> None:
    """The transit key is derived per context: another tenant's context does not decrypt."""
    kms = await _kms(openbao_server)
    dek = DataKey.generate(1).material
    wrapped = await kms.wrap(dek, wrap_context("acme", 1))
    assert wrapped.startswith(b"vault:v1:")
    assert await kms.unwrap(wrapped, wrap_context("acme", 1)) == dek
    with pytest.raises(KmsUnwrapError):
        await kms.unwrap(wrapped, wrap_context("globex", 1))


async def test_rotation_and_rewrap_move_a_key_to_the_new_kek_version(
    openbao_server: OpenBaoServer,
) -> None:
    """After rotating the KEK, rewrap gives a v2 ciphertext of the same data key; v1 still opens."""
    kms = await _kms(openbao_server)
    dek = DataKey.generate(1).material
    context = wrap_context("acme", 1)
    old = await kms.wrap(dek, context)
    assert await kms.rotate() == 2
    new = await kms.rewrap(old, context)
    assert (kms.kek_version(old), kms.kek_version(new)) == (1, 2)
    assert await kms.unwrap(new, context) == dek
    assert await kms.unwrap(old, context) == dek


async def test_a_wrong_token_is_unavailable_not_a_bad_key(openbao_server: OpenBaoServer) -> None:
    """A KMS that refuses the caller is UNAVAILABLE, naming the server, never a decryption error."""
    await _kms(openbao_server)
    intruder = VaultTransitKms(openbao_server.url, "not-the-token")
    with pytest.raises(KmsUnavailableError, match=openbao_server.url):
        await intruder.wrap(b"k" * 32, b"ctx")
