"""`portico nats-config`: the NATS users of a compose or Kubernetes deployment, as files.

One directory holds everything a deployment needs to run NATS with a user per
identity, each with the permissions the event topology gives it:

- `nats-auth.conf`: the server's `authorization` block (public keys and
  permissions only), loaded with `nats-server --config`;
- `nats-helm-values.yaml`: the same block for the official NATS Helm chart
  (a ConfigMap file the chart's `nats.conf` includes);
- `<identity>.nk`: each identity's nkey seed, for a Kubernetes Secret;
- `<identity>.env`: for compose, the variables that sign a service (or the
  provisioner) in;
- `.gitignore`: keeps the seeds out of version control wherever the directory is.

Seeds already in the directory are reused, so running the command again
rewrites the same files; only `--rotate` replaces them. Nothing here prints a
seed: only file names and public keys.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import nkeys

from portico_cli.errors import CliError
from portico_cli.table import format_table
from portico_common.events.nats_permissions import OBSERVER, PROVISIONER
from portico_common.events.topology import SERVICES
from portico_embedded.nats_identities import NatsIdentity, suite_identities

#: Where compose looks for the files (docker-compose.yml), relative to the repository.
DEFAULT_DIR = Path(".secrets/nats")
#: The Secret name the chart's docs use for `nats.identitiesSecret`.
K8S_SECRET = "portico-nats-identities"  # noqa: S105 - a Secret's name, not a secret
AUTH_CONF = "nats-auth.conf"
HELM_VALUES = "nats-helm-values.yaml"
# The name of the auth block inside the NATS chart's ConfigMap (next to its nats.conf).
CHART_AUTH_FILE = "portico-nats-auth.conf"
SEED_SUFFIX = ".nk"
ENV_SUFFIX = ".env"
SEED_ENV = "PORTICO_NATS_NKEY_SEED"
PROVISIONED_ENV = "PORTICO_NATS_PROVISIONED"

#: Every identity on the bus: the services, the provisioner, the read-only observer.
IDENTITIES: tuple[str, ...] = (*SERVICES, PROVISIONER, OBSERVER)
#: Identities that run in a deployment and so get an env file (the observer is a
#: person's or a dashboard's, signed in with its seed file).
DEPLOYED: tuple[str, ...] = (*SERVICES, PROVISIONER)

_PUBLIC = 0o644
_PRIVATE = 0o600


@dataclass(frozen=True)
class NatsConfig:
    """What one run wrote: the identities, and which of them got a new seed."""

    directory: Path
    identities: Mapping[str, NatsIdentity]
    created: frozenset[str]
    rotated: frozenset[str]

    def state(self, name: str) -> str:
        """What happened to `name`'s seed in this run: "new", "rotated" or "kept"."""
        if name in self.rotated:
            return "rotated"
        return "new" if name in self.created else "kept"


def run(directory: Path, rotate: Collection[str] | None = None) -> int:
    """Writes the files and says what to do with them.

    `rotate` None keeps every seed, an empty collection replaces them all,
    names replace only those identities' seeds.
    """
    names = IDENTITIES if rotate is not None and not rotate else (rotate or ())
    print(report(write(directory, names)))
    return 0


def write(directory: Path, rotate: Collection[str] = ()) -> NatsConfig:
    """Writes every file into `directory`, reusing its seeds except those in `rotate`."""
    unknown = sorted(set(rotate) - set(IDENTITIES))
    if unknown:
        raise CliError(
            f"cannot rotate {', '.join(unknown)}: the identities are {', '.join(IDENTITIES)}"
        )
    if directory.exists() and not directory.is_dir():
        raise CliError(f"{directory} exists and is not a directory")
    existing = {
        name: seed
        for name in IDENTITIES
        if name not in rotate and (seed := read_seed(directory, name))
    }
    replaced = frozenset(name for name in rotate if (directory / f"{name}{SEED_SUFFIX}").exists())
    identities = suite_identities(existing)
    _make_private_dir(directory)
    _write(directory / ".gitignore", "# Secrets: nothing here belongs in git.\n*\n", _PUBLIC)
    for name, identity in identities.items():
        _write(directory / f"{name}{SEED_SUFFIX}", identity.seed, _PRIVATE)
    for name in DEPLOYED:
        _write(directory / f"{name}{ENV_SUFFIX}", env_file(identities[name]), _PRIVATE)
    conf = auth_conf(identities)
    _write(directory / AUTH_CONF, conf, _PUBLIC)
    _write(directory / HELM_VALUES, helm_values(conf), _PUBLIC)
    return NatsConfig(
        directory=directory,
        identities=identities,
        created=frozenset(set(IDENTITIES) - set(existing)),
        rotated=replaced,
    )


def read_seed(directory: Path, name: str) -> str:
    """The user seed in `<directory>/<name>.nk`; "" when there is no such file."""
    path = directory / f"{name}{SEED_SUFFIX}"
    try:
        seed = path.read_text().strip()
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    if not is_user_seed(seed):
        raise CliError(
            f"{path} does not hold an nkey user seed (SU...); move it away, or replace it"
            f" with --rotate {name}"
        )
    return seed


def is_user_seed(seed: str) -> bool:
    """Whether `seed` is an nkey seed of a user ("SU..."), the only kind NATS users sign with."""
    try:
        prefix, raw = nkeys.decode_seed(seed.encode())
    except (nkeys.NkeysError, ValueError):
        return False
    return prefix == nkeys.PREFIX_BYTE_USER and len(raw) == 32


def auth_conf(identities: Mapping[str, NatsIdentity]) -> str:
    """The server's `authorization` block as JSON (which NATS reads as configuration)."""
    users = [identity.user_entry() for identity in identities.values()]
    return json.dumps({"authorization": {"users": users}}, indent=2) + "\n"


def helm_values(conf: str) -> str:
    """Values for the official NATS chart, whose nats.conf then includes the auth block.

    The chart mounts its ConfigMap at /etc/nats-config and turns a `$include`
    key of `config.merge` into an include directive; the block goes into that
    ConfigMap verbatim, as a YAML literal.
    """
    block = "".join(f"        {line}\n" if line else "\n" for line in conf.splitlines())
    return (
        "# Values for the official NATS chart (https://github.com/nats-io/k8s), written by\n"
        "# `portico nats-config`: one NATS user per Portico identity, with its permissions.\n"
        "# Public keys only; the seeds are in the <identity>.nk files beside this one.\n"
        "config:\n"
        "  merge:\n"
        f'    "$include": {CHART_AUTH_FILE}\n'
        "configMap:\n"
        "  merge:\n"
        "    data:\n"
        f"      {CHART_AUTH_FILE}: |\n"
        f"{block}"
    )


def env_file(identity: NatsIdentity) -> str:
    """A compose env file that signs `identity` in to NATS."""
    lines = [
        f"# NATS identity {identity.name!r}, written by `portico nats-config`.",
        "# A secret: keep it private (mode 0600) and out of version control.",
        f"{SEED_ENV}={identity.seed}",
    ]
    if identity.name != PROVISIONER:
        # Services only bind to the streams and consumers the provisioner created.
        lines.append(f"{PROVISIONED_ENV}=true")
    return "\n".join(lines) + "\n"


def _make_private_dir(directory: Path) -> None:
    if not directory.exists():
        directory.mkdir(parents=True)
        directory.chmod(0o700)


def _write(path: Path, text: str, mode: int) -> None:
    """Replaces `path` in one step with a file that has `mode` from its first byte."""
    scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w") as handle:
            # The umask may have narrowed the mode; public files must stay readable.
            os.fchmod(handle.fileno(), mode)
            handle.write(text)
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise
    scratch.replace(path)


def report(config: NatsConfig) -> str:
    """The identities (public keys only), and the commands that put the files to use."""
    here = config.directory
    rows = [["identity", "public key", "seed"]]
    rows += [
        [name, found.public_key, config.state(name)] for name, found in config.identities.items()
    ]
    values = shlex.quote(str(here / HELM_VALUES))
    lines = [
        f"NATS identities in {here} (each seed stays in its file and is never printed):",
        format_table(rows),
        "",
        f"{AUTH_CONF} and {HELM_VALUES}: the users' public keys and permissions.",
        f"<identity>{SEED_SUFFIX} (seeds) and <identity>{ENV_SUFFIX} (compose): yours alone, 0600.",
        "",
        f"docker compose (reads ./{DEFAULT_DIR}, or $PORTICO_NATS_CONFIG_DIR):",
        "  docker compose up --build -d",
        "",
        "Kubernetes: the seeds as a Secret, the users in the NATS chart, then Portico:",
        f"  kubectl -n portico create secret generic {K8S_SECRET} \\",
    ]
    lines += [
        f"    --from-file={name}={shlex.quote(str(here / f'{name}{SEED_SUFFIX}'))} \\"
        for name in DEPLOYED
    ]
    lines += [
        "    --dry-run=client -o yaml | kubectl apply -f -",
        f"  helm upgrade --install nats nats/nats -n nats -f {values} ...",
        "  helm upgrade --install portico deploy/helm/portico -n portico \\",
        f"    --set nats.identitiesSecret={K8S_SECRET} ...",
    ]
    if config.rotated:
        lines += [
            "",
            f"Rotated: {', '.join(sorted(config.rotated))}. Their old seeds stop working once",
            "NATS has the new users: reload it (compose: docker compose up -d --force-recreate",
            "nats; Kubernetes: the helm command for nats), update the Secret, then restart",
            "those services (compose: docker compose up -d; kubectl rollout restart).",
        ]
    return "\n".join(lines)
