"""The suite's generated secrets (`<home>/secrets.json`, mode 0600).

They are created once and reused, so tokens and encrypted keys stay valid
across restarts. Nothing here ever prints a secret.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from portico_cli.errors import CliError

ADMIN_CLIENT_ID = "portico-admin"
ADMIN_SECRET_ENV = "PORTICO_AUTH_ADMIN_CLIENT_SECRET"  # noqa: S105 - a variable name
KEK_ENV = "PORTICO_AUTH_KEY_ENCRYPTION_KEY"
SERVICE_CLIENTS_ENV = "PORTICO_AUTH_SERVICE_CLIENT_SECRETS"
CHANNEL_KEY_ENV = "PORTICO_SLO_CHANNEL_SECRET_KEY"
_FIELDS = ("admin_client_secret", "key_encryption_key")


@dataclass(frozen=True)
class Secrets:
    admin_client_secret: str
    key_encryption_key: str

    def __repr__(self) -> str:
        return "Secrets(<redacted>)"

    def values(self) -> tuple[str, ...]:
        return (self.admin_client_secret, self.key_encryption_key)


def load_or_create(path: Path) -> tuple[Secrets, bool]:
    """The secrets in `path`, generating the file first if it does not exist.

    Returns the secrets and whether they were just created. Environment
    variables (`PORTICO_AUTH_ADMIN_CLIENT_SECRET`, `..._KEY_ENCRYPTION_KEY`)
    override the file, for users who manage secrets themselves.
    """
    created = False
    if not path.exists():
        try:
            _create(path)
            created = True
        except FileExistsError:
            pass  # written a moment ago by another run; use it
    found = load(path)
    return (
        Secrets(
            admin_client_secret=os.environ.get(ADMIN_SECRET_ENV) or found.admin_client_secret,
            key_encryption_key=os.environ.get(KEK_ENV) or found.key_encryption_key,
        ),
        created,
    )


def load(path: Path) -> Secrets:
    """Reads the secrets file, tightening its mode to 0600 if it was looser."""
    try:
        raw = path.read_text()
    except FileNotFoundError:
        raise CliError(f"{path} does not exist; `portico up` creates it on first run") from None
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        path.chmod(0o600)
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CliError(f"{path} is not valid JSON (line {exc.lineno})") from None
    if not isinstance(data, dict) or not all(
        isinstance(data.get(name), str) and data[name] for name in _FIELDS
    ):
        raise CliError(f"{path} must hold non-empty strings {', '.join(_FIELDS)}")
    return Secrets(data["admin_client_secret"], data["key_encryption_key"])


def admin_client_secret(path: Path) -> str:
    """The admin client's secret: the environment's, else the file's."""
    return os.environ.get(ADMIN_SECRET_ENV) or load(path).admin_client_secret


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps(
        {
            "admin_client_secret": secrets.token_urlsafe(32),
            "key_encryption_key": secrets.token_urlsafe(32),
        },
        indent=2,
    )
    # O_EXCL: never overwrite secrets another run just wrote; 0600 from the first byte.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(body + "\n")


@dataclass(frozen=True)
class DatabasePasswords:
    """The embedded PostgreSQL's superuser, the migrator and one role per service."""

    superuser: str
    migrator: str
    services: dict[str, str]

    def __repr__(self) -> str:
        return "DatabasePasswords(<redacted>)"

    def values(self) -> tuple[str, ...]:
        return (self.superuser, self.migrator, *self.services.values())


def database_passwords(path: Path, services: tuple[str, ...]) -> DatabasePasswords:
    """The database's passwords (the `postgres` entry of the secrets file), made once.

    Whatever is missing (a file from before the database had roles, a new
    service) is generated and written back, the file staying 0600; what
    exists is kept, so the data directory's passwords stay valid.
    """
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise CliError(f"{path} must hold a JSON object")
    original = data.get("postgres")
    entry = dict(original) if isinstance(original, dict) else {}
    known = entry.get("services")
    roles = dict(known) if isinstance(known, dict) else {}
    for name in ("superuser", "migrator"):
        if not _is_secret(entry.get(name)):
            entry[name] = _database_password()
    for service in services:
        if not _is_secret(roles.get(service)):
            roles[service] = _database_password()
    entry["services"] = roles
    if entry != original:
        data["postgres"] = entry
        _replace(path, data)
    return DatabasePasswords(entry["superuser"], entry["migrator"], roles)


def _is_secret(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _database_password() -> str:
    # Hex: safe in a URL and in SQL without quoting, as the embedded server requires.
    return secrets.token_hex(24)


def _replace(path: Path, data: dict[str, object]) -> None:
    """Rewrites the secrets file whole (0600 from the first byte), never half-written."""
    scratch = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(data, indent=2) + "\n")
    scratch.replace(path)


@dataclass(frozen=True)
class ServiceSecrets:
    """Each service's own client secret at auth, and the key slo seals channel secrets with."""

    clients: dict[str, str]
    channel_key: str

    def __repr__(self) -> str:
        return "ServiceSecrets(<redacted>)"

    def values(self) -> tuple[str, ...]:
        return (*self.clients.values(), self.channel_key)


def service_secrets(path: Path, services: tuple[str, ...]) -> ServiceSecrets:
    """The services' secrets (the `services` entry of the secrets file), made once.

    Like the database's passwords: whatever is missing is generated and written
    back (0600), what exists is kept, so a restart keeps every identity.
    """
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise CliError(f"{path} must hold a JSON object")
    original = data.get("services")
    entry = dict(original) if isinstance(original, dict) else {}
    known = entry.get("clients")
    clients = dict(known) if isinstance(known, dict) else {}
    for service in services:
        if not _is_secret(clients.get(service)):
            clients[service] = secrets.token_urlsafe(32)
    entry["clients"] = clients
    if not _is_secret(entry.get("channel_key")):
        entry["channel_key"] = secrets.token_urlsafe(32)
    if entry != original:
        data["services"] = entry
        _replace(path, data)
    return ServiceSecrets(clients, entry["channel_key"])
