"""Loading the provenance trust configuration: a Sigstore trusted root and npm's registry keys."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from importlib import resources
from pathlib import Path

from portico_security.verification.domain.provenance import ManagedKey, TrustConfig
from portico_security.verification.errors import TrustConfigError


def public_good_trusted_root() -> str:
    """The Sigstore public-good production trusted root that sigstore-python ships (offline)."""
    store = resources.files("sigstore") / "_store" / "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev"
    return (store / "trusted_root.json").read_text()


def npm_registry_keys(document: str) -> tuple[ManagedKey, ...]:
    """Keys of npm's `/-/npm/v1/keys` document (`{"keys": [{keyid, key, expires}]}`)."""
    try:
        doc = json.loads(document)
        keys = []
        for entry in doc["keys"]:
            expires = entry.get("expires")
            keys.append(
                ManagedKey(
                    key_id=str(entry["keyid"]),
                    spki_der=base64.b64decode(entry["key"], validate=True),
                    expires=datetime.fromisoformat(expires) if expires else None,
                )
            )
    except (ValueError, KeyError, TypeError) as exc:
        raise TrustConfigError(f"npm registry keys: {exc!r}") from None
    return tuple(keys)


def load_trust_config(trusted_root: Path | None, npm_keys: Path | None) -> TrustConfig:
    """The configured trust: a trusted root (default: public good), npm's keys (default: none)."""
    try:
        root = trusted_root.read_text() if trusted_root else public_good_trusted_root()
        keys = npm_registry_keys(npm_keys.read_text()) if npm_keys else ()
    except OSError as exc:
        raise TrustConfigError(str(exc)) from None
    return TrustConfig(trusted_root_json=root, keys=keys)
