"""Settings of the tenancy service (env prefix PORTICO_)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

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
    # ---- durable jobs and Kubernetes provisioning (docs/tenancy.md) ----------
    # Where a tenant's namespace, quota, limits, network policies and RBAC go:
    # "none" provisions nothing (no job is enqueued), "cluster" applies them to
    # a Kubernetes API server (server-side apply), "gitops" commits them to a
    # git repository that Argo CD or Flux syncs.
    provisioning: Literal["none", "cluster", "gitops"] = "none"
    # cluster: the API server's URL; empty finds the cluster as kubectl does
    # (the pod's service account in a cluster, else KUBECONFIG).
    k8s_api_server: str = ""
    # A bearer token for k8s_api_server (the in-cluster path uses the pod's own).
    k8s_token: SecretStr = SecretStr("")
    k8s_field_manager: str = "portico-tenancy"
    # Every request with dryRun=All: the server validates, nothing is stored.
    k8s_dry_run: bool = False
    k8s_namespace_prefix: str = "tenant-"
    # The portal's namespace: the only one whose pods may reach a tenant's.
    k8s_portal_namespace: str = "portico"
    # The tenant's groups at the identity provider: <prefix><tenant>:{admin,developer,viewer}.
    k8s_group_prefix: str = "portico:"
    # The quota a namespace gets while the platform has set none for the tenant.
    k8s_default_cpu_millicores: int = Field(default=2000, ge=0)
    k8s_default_memory_mib: int = Field(default=4096, ge=0)
    k8s_default_storage_mib: int = Field(default=10240, ge=0)
    # gitops: a repository URL or path that git can clone and push to, its branch,
    # and the folder holding one sub-folder per tenant namespace.
    gitops_repository: str = ""
    gitops_branch: str = "main"
    gitops_path: str = "tenants"
    # Run queued jobs in this process (a deployment may run workers apart); no
    # worker runs when provisioning is "none", since nothing enqueues jobs then.
    jobs_worker: bool = True
    jobs_concurrency: int = Field(default=4, ge=1, le=64)
    jobs_max_attempts: int = Field(default=8, ge=1, le=100)
    # Backoff between attempts: from this, doubling, jittered, at most the cap.
    jobs_backoff_seconds: float = Field(default=2.0, gt=0)
    jobs_backoff_cap_seconds: float = Field(default=300.0, gt=0)
    # A running job's heartbeat: a job silent this long was orphaned by a dead
    # worker and is picked again.
    jobs_heartbeat_seconds: float = Field(default=30.0, gt=0)
    jobs_poll_seconds: float = Field(default=5.0, gt=0)

    # ---- the tenant lifecycle (docs/tenancy-lifecycle.md) ----------------------
    # How long a deleted tenant stays restorable before its data is deleted.
    deletion_grace_seconds: float = Field(default=30 * 24 * 3600.0, ge=0)
    # How often grace periods that ended are looked for.
    deletion_poll_seconds: float = Field(default=30.0, gt=0)

    # ---- quota reservations (docs/tenancy-quotas.md) ----------------------------
    # A hold whose owner never recorded its work (a caller that stopped between
    # Reserve and its commit) is released this long after it was taken.
    reservation_hold_ttl_seconds: float = Field(default=900.0, gt=0)
    # How often such holds are looked for, and how many one batch releases.
    reservation_sweep_seconds: float = Field(default=60.0, gt=0)
    reservation_sweep_batch: int = Field(default=500, ge=1, le=10_000)
    # How often bridge and silo tenants the placer reported placed are activated.
    placement_poll_seconds: float = Field(default=1.0, gt=0)
