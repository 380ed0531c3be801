"""Settings of the tenancy service (env prefix PORTICO_)."""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr

from portico_common.settings import ServiceSettings


class TenancySettings(ServiceSettings):
    grpc_port: int = 50061

    # Per-tenant data keys: the KMS whose key-encryption key wraps them. Empty:
    # none, and the data-key RPCs answer FAILED_PRECONDITION naming this setting.
    tenancy_kms: Literal["", "local", "vault-transit"] = ""
    # local: the 0600 key file (`portico up` creates .portico/kms-key.json), or,
    # in a container, the KEK itself (64 hex characters, or the key file's JSON).
    tenancy_kms_key_file: str = ""
    tenancy_kms_key: SecretStr = SecretStr("")
    # vault-transit: Vault or OpenBao, a token allowed to use the transit key.
    tenancy_kms_vault_url: str = ""
    tenancy_kms_vault_token: SecretStr = SecretStr("")
    tenancy_kms_vault_key: str = "portico-tenant-keys"
    tenancy_kms_vault_mount: str = "transit"
