"""Writes the secrets docker-compose.yml reads from `.env`: `python3 scripts/compose_env.py`.

Every secret the Compose file requires is generated once; values already in
the file are kept (changing a database password in `.env` alone would lock
the service out of the data made with the old one). The file is written
whole, mode 0600, and is ignored by git. Standard library only, so it runs
before any environment exists: `make compose-env` runs it too.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

SERVICES = ("auth", "tenancy", "security", "compat", "rollout", "slo")
# Hex: safe inside the postgresql:// URLs the Compose file builds from them.
WANTED = (
    "PORTICO_AUTH_ADMIN_CLIENT_SECRET",
    "PORTICO_AUTH_KEY_ENCRYPTION_KEY",
    # The PostgreSQL container's superuser (`portico`): used only by db-setup.
    "POSTGRES_PASSWORD",
    "PORTICO_MIGRATOR_DB_PASSWORD",
    *(f"PORTICO_{service.upper()}_DB_PASSWORD" for service in SERVICES),
    # Each service's own client at auth (svc-<service>); auth upserts them all.
    *(f"PORTICO_{service.upper()}_CLIENT_SECRET" for service in SERVICES if service != "auth"),
    "PORTICO_SLO_CHANNEL_SECRET_KEY",
    # tenancy's key-encryption key (32 bytes in hex): wraps every tenant's data keys.
    "PORTICO_TENANCY_KMS_KEY",
)


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else Path(__file__).resolve().parents[1] / ".env")
    lines = path.read_text().splitlines() if path.exists() else []
    present = {line.split("=", 1)[0].strip() for line in lines if "=" in line}
    added = [name for name in WANTED if name not in present]
    lines += [f"{name}={secrets.token_hex(32)}" for name in added]
    scratch = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("".join(f"{line}\n" for line in lines))
    scratch.replace(path)
    print(f"{path}: {len(added)} secret(s) generated, {len(WANTED) - len(added)} kept (mode 0600)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
