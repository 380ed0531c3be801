"""`portico nats-config`: files, modes, reuse of seeds, rotation, and no seed ever shown."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import nkeys
import pytest
import yaml

from portico_cli import main, nats_config
from portico_cli.errors import CliError
from portico_common.events.nats_permissions import (
    OBSERVER,
    PROVISIONER,
    observer_permissions,
    provisioner_permissions,
    service_permissions,
)
from portico_common.events.topology import SERVICES
from portico_embedded.nats_identities import new_seed, suite_identities


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _seeds(directory: Path) -> dict[str, str]:
    return {name: (directory / f"{name}.nk").read_text() for name in nats_config.IDENTITIES}


def _env(path: Path) -> dict[str, str]:
    """A compose env file's variables (comments skipped)."""
    pairs = [line.split("=", 1) for line in path.read_text().splitlines() if "=" in line]
    assert all(not key.startswith("#") for key, _ in pairs)
    return dict(pairs)


def _files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def test_the_identities_are_the_suites() -> None:
    """The command covers exactly the identities the suite's NATS users are built for."""
    assert set(nats_config.IDENTITIES) == set(suite_identities())
    assert set(nats_config.DEPLOYED) == {*SERVICES, PROVISIONER}


def test_it_writes_a_seed_per_identity_readable_by_the_owner_alone(tmp_path: Path) -> None:
    """Every identity gets `<identity>.nk`: a valid user seed, mode 0600, in a 0700 directory."""
    out = tmp_path / "nats"
    nats_config.write(out)

    assert _mode(out) == 0o700
    for name, seed in _seeds(out).items():
        assert _mode(out / f"{name}.nk") == 0o600, name
        assert nats_config.is_user_seed(seed), name
        assert seed == seed.strip(), "a trailing newline would end up in the Secret's value"
    assert len(set(_seeds(out).values())) == len(nats_config.IDENTITIES)


def test_the_auth_block_admits_each_seed_with_the_topologys_permissions(tmp_path: Path) -> None:
    """nats-auth.conf has one user per identity: its seed's public key and its permissions."""
    nats_config.write(tmp_path)
    conf = json.loads((tmp_path / "nats-auth.conf").read_text())
    users = {user["nkey"]: user["permissions"] for user in conf["authorization"]["users"]}
    assert set(conf) == {"authorization"}
    assert _mode(tmp_path / "nats-auth.conf") == 0o644

    expected = {service: service_permissions(service) for service in SERVICES}
    expected[PROVISIONER] = provisioner_permissions()
    expected[OBSERVER] = observer_permissions()
    assert len(users) == len(expected)
    for name, seed in _seeds(tmp_path).items():
        public = nkeys.from_seed(seed.encode()).public_key.decode()
        assert users[public] == expected[name], name


def test_compose_env_files_sign_each_service_in_and_only_bind(tmp_path: Path) -> None:
    """`<service>.env` carries the service's own seed and PORTICO_NATS_PROVISIONED=true, 0600."""
    nats_config.write(tmp_path)
    seeds = _seeds(tmp_path)

    for service in SERVICES:
        path = tmp_path / f"{service}.env"
        assert _mode(path) == 0o600, service
        assert _env(path) == {
            "PORTICO_NATS_NKEY_SEED": seeds[service],
            "PORTICO_NATS_PROVISIONED": "true",
        }
    assert _env(tmp_path / "provisioner.env") == {"PORTICO_NATS_NKEY_SEED": seeds[PROVISIONER]}
    assert not (tmp_path / "observer.env").exists(), "nothing deployed runs as the observer"


def test_the_helm_values_put_the_same_block_into_the_nats_charts_config(tmp_path: Path) -> None:
    """nats-helm-values.yaml includes nats-auth.conf's text verbatim from the chart's ConfigMap."""
    nats_config.write(tmp_path)
    values = yaml.safe_load((tmp_path / "nats-helm-values.yaml").read_text())

    included = values["config"]["merge"]["$include"]
    assert values["configMap"]["merge"]["data"] == {
        included: (tmp_path / "nats-auth.conf").read_text()
    }
    for seed in _seeds(tmp_path).values():
        assert seed not in (tmp_path / "nats-helm-values.yaml").read_text()


def test_the_directory_keeps_itself_out_of_git(tmp_path: Path) -> None:
    """A `.gitignore` of `*` inside the directory: its seeds are never committed by accident."""
    nats_config.write(tmp_path)
    rules = [line for line in (tmp_path / ".gitignore").read_text().splitlines() if line[:1] != "#"]
    assert rules == ["*"]


def test_running_again_keeps_every_seed_and_rewrites_the_same_files(tmp_path: Path) -> None:
    """A second run is a no-op on disk: same seeds, same bytes, every seed reported as kept."""
    first = nats_config.write(tmp_path)
    before = _files(tmp_path)

    again = nats_config.write(tmp_path)

    assert _files(tmp_path) == before
    assert first.created == frozenset(nats_config.IDENTITIES)
    assert again.created == frozenset()
    assert {again.state(name) for name in nats_config.IDENTITIES} == {"kept"}


def test_seeds_put_there_by_the_operator_are_used(tmp_path: Path) -> None:
    """A seed the operator already has (e.g. from a vault) is adopted; the others are generated."""
    mine = new_seed()
    (tmp_path / "rollout.nk").write_text(mine + "\n")

    found = nats_config.write(tmp_path)

    assert found.identities["rollout"].seed == mine
    assert found.state("rollout") == "kept"
    assert _env(tmp_path / "rollout.env")["PORTICO_NATS_NKEY_SEED"] == mine
    assert (tmp_path / "rollout.nk").read_text() == mine


def test_a_seed_file_left_readable_by_others_is_narrowed_to_the_owner(tmp_path: Path) -> None:
    """Reusing a seed file does not keep a loose mode: it is rewritten 0600."""
    nats_config.write(tmp_path)
    (tmp_path / "slo.nk").chmod(0o644)
    (tmp_path / "slo.env").chmod(0o644)

    nats_config.write(tmp_path)

    assert _mode(tmp_path / "slo.nk") == 0o600
    assert _mode(tmp_path / "slo.env") == 0o600


def test_rotating_one_identity_replaces_only_its_seed(tmp_path: Path) -> None:
    """--rotate slo gives slo a new seed and public key; every other seed stays."""
    nats_config.write(tmp_path)
    before = _seeds(tmp_path)

    found = nats_config.write(tmp_path, rotate=["slo"])

    after = _seeds(tmp_path)
    assert after["slo"] != before["slo"]
    assert {k: v for k, v in after.items() if k != "slo"} == {
        k: v for k, v in before.items() if k != "slo"
    }
    assert found.rotated == {"slo"}
    assert found.state("slo") == "rotated"
    old_public = nkeys.from_seed(before["slo"].encode()).public_key.decode()
    assert old_public not in (tmp_path / "nats-auth.conf").read_text()
    assert _env(tmp_path / "slo.env")["PORTICO_NATS_NKEY_SEED"] == after["slo"]


def test_rotate_without_names_replaces_every_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`portico nats-config --rotate` gives every identity a new seed."""
    out = tmp_path / "nats"
    assert main.main(["nats-config", "--out", str(out)]) == 0
    before = _seeds(out)

    assert main.main(["nats-config", "--out", str(out), "--rotate"]) == 0

    after = _seeds(out)
    assert all(after[name] != before[name] for name in nats_config.IDENTITIES)
    assert "Rotated: " in capsys.readouterr().out


def test_rotating_an_unknown_identity_is_refused(tmp_path: Path) -> None:
    """A typo in --rotate names the identities there are, and writes nothing."""
    with pytest.raises(CliError, match=r"cannot rotate slo-typo: the identities are auth, "):
        nats_config.write(tmp_path / "nats", rotate=["slo-typo"])
    assert not (tmp_path / "nats").exists()


@pytest.mark.parametrize(
    "content",
    [
        "not a seed",
        # An account seed is a valid nkey seed, but NATS users sign in with user seeds.
        nkeys.encode_seed(bytes(32), prefix=nkeys.PREFIX_BYTE_ACCOUNT).decode(),
    ],
)
def test_a_seed_file_that_holds_no_user_seed_is_refused(tmp_path: Path, content: str) -> None:
    """A damaged or wrong-kind `<identity>.nk` stops the run, naming the file, not its content."""
    nats_config.write(tmp_path)
    (tmp_path / "compat.nk").write_text(content)
    before = _files(tmp_path)

    with pytest.raises(CliError) as caught:
        nats_config.write(tmp_path)

    message = str(caught.value)
    assert str(tmp_path / "compat.nk") in message
    assert "--rotate compat" in message
    assert content not in message
    assert _files(tmp_path) == before


def test_a_damaged_seed_can_be_replaced_with_rotate(tmp_path: Path) -> None:
    """--rotate does not need to read the seed it replaces."""
    (tmp_path / "compat.nk").write_text("garbage")
    found = nats_config.write(tmp_path, rotate=["compat"])
    assert nats_config.is_user_seed((tmp_path / "compat.nk").read_text())
    assert found.state("compat") == "rotated"


def test_the_command_never_prints_a_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Output names files and public keys, and how to use them; no seed, on any run."""
    out = tmp_path / "nats"
    runs = [
        ["nats-config", "--out", str(out)],
        ["nats-config", "--out", str(out)],
        ["nats-config", "--out", str(out), "--rotate", "rollout"],
    ]
    for argv in runs:
        assert main.main(argv) == 0
        printed = capsys.readouterr()
        for seed in _seeds(out).values():
            assert seed not in printed.out + printed.err
    publics = {nkeys.from_seed(s.encode()).public_key.decode() for s in _seeds(out).values()}
    assert all(public in printed.out for public in publics)
    assert f"--from-file=provisioner={out / 'provisioner.nk'}" in printed.out
    assert "nats.identitiesSecret=portico-nats-identities" in printed.out


def test_without_out_it_writes_where_compose_looks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The default directory is `.secrets/nats`, the one docker-compose.yml reads."""
    monkeypatch.chdir(tmp_path)
    assert main.main(["nats-config"]) == 0
    capsys.readouterr()
    assert (tmp_path / ".secrets" / "nats" / "nats-auth.conf").is_file()
    assert Path(".secrets/nats") == nats_config.DEFAULT_DIR


def test_a_file_where_the_directory_should_be_is_refused(tmp_path: Path) -> None:
    """--out naming a regular file fails with a clear message."""
    target = tmp_path / "taken"
    target.write_text("")
    with pytest.raises(CliError, match="is not a directory"):
        nats_config.write(target)
