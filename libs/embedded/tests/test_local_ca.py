"""The local CA: made once, reused while good, renewed before anything expires (fixed times)."""

from __future__ import annotations

import ipaddress
import ssl
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from portico_embedded import local_ca
from portico_embedded.local_ca import LocalCa, ensure

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NAMES = ("auth", "nats", "postgres")


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _files(ca: LocalCa) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(ca.directory.iterdir())}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_first_run_makes_a_one_year_ca_and_90_day_leaves_with_private_keys(
    tmp_path: Path,
) -> None:
    """CA for a year, leaves for 90 days with localhost/127.0.0.1, P-256, keys 0600, dir 0700."""
    made = ensure(tmp_path / "tls", NAMES, now=T0)
    ca = made.ca
    assert made.new_ca
    assert made.issued == NAMES
    assert _mode(ca.directory) == 0o700
    root = _cert(ca.ca_cert)
    assert root.not_valid_after_utc - T0 == local_ca.CA_LIFETIME
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for name in ("ca", *NAMES):
        pair = ca.leaf(name)
        assert _mode(pair.key) == 0o600
        assert isinstance(_cert(pair.cert).public_key(), ec.EllipticCurvePublicKey)
    leaf = _cert(ca.leaf("auth").cert)
    assert leaf.not_valid_after_utc - T0 == local_ca.LEAF_LIFETIME
    assert leaf.not_valid_before_utc < T0
    assert leaf.issuer == root.subject
    leaf.verify_directly_issued_by(root)
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_python_ssl_accepts_a_leaf_against_the_ca(tmp_path: Path) -> None:
    """The files load as an ssl server pair and a client context that trusts the CA."""
    ca = ensure(tmp_path / "tls", ["gateway"], now=datetime.now(UTC)).ca
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(ca.leaf("gateway").cert, ca.leaf("gateway").key)
    client = ssl.create_default_context(cafile=ca.ca_cert)
    assert client.verify_mode == ssl.CERT_REQUIRED
    assert [c["subject"] for c in client.get_ca_certs()] == [
        (
            (("organizationName", "Portico local development"),),
            (("commonName", "Portico local CA"),),
        )
    ]


def test_a_later_run_reuses_everything_that_is_still_good(tmp_path: Path) -> None:
    """Sixty days on, nothing is rewritten: the same CA, keys and certificates."""
    first = ensure(tmp_path / "tls", NAMES, now=T0).ca
    before = _files(first)
    again = ensure(tmp_path / "tls", NAMES, now=T0 + timedelta(days=60))
    assert not again.new_ca
    assert again.issued == ()
    assert _files(again.ca) == before


def test_a_leaf_with_less_than_a_third_of_its_life_left_is_reissued(tmp_path: Path) -> None:
    """At day 61 (29 days left) each leaf gets a new key and 90 more days; the CA stays."""
    ca = ensure(tmp_path / "tls", NAMES, now=T0).ca
    root = ca.ca_cert.read_bytes()
    old_key = ca.leaf("nats").key.read_bytes()
    later = T0 + timedelta(days=61)
    renewed = ensure(tmp_path / "tls", NAMES, now=later)
    assert not renewed.new_ca
    assert renewed.issued == NAMES
    assert ca.ca_cert.read_bytes() == root
    assert ca.leaf("nats").key.read_bytes() != old_key
    assert _cert(ca.leaf("nats").cert).not_valid_after_utc == later + local_ca.LEAF_LIFETIME


def test_a_ca_with_less_than_a_leafs_lifetime_left_is_renewed_with_every_leaf(
    tmp_path: Path,
) -> None:
    """With 89 days left the CA is replaced, and leaves it signed are reissued by the new one."""
    ca = ensure(tmp_path / "tls", NAMES, now=T0).ca
    old_root = _cert(ca.ca_cert)
    later = T0 + local_ca.CA_LIFETIME - timedelta(days=89)
    renewed = ensure(tmp_path / "tls", NAMES, now=later)
    assert renewed.new_ca
    assert renewed.issued == NAMES
    root = _cert(ca.ca_cert)
    assert root.serial_number != old_root.serial_number
    for name in NAMES:
        leaf = _cert(ca.leaf(name).cert)
        leaf.verify_directly_issued_by(root)
        assert leaf.not_valid_after_utc <= root.not_valid_after_utc


def test_a_leaf_from_another_ca_or_for_other_names_is_reissued(tmp_path: Path) -> None:
    """A leaf copied in from another CA, and one asked for with other hosts, are replaced."""
    ours = ensure(tmp_path / "ours", ["auth", "slo"], now=T0).ca
    theirs = ensure(tmp_path / "theirs", ["auth"], now=T0).ca
    for suffix in ("crt", "key"):
        (ours.directory / f"auth.{suffix}").write_bytes(
            (theirs.directory / f"auth.{suffix}").read_bytes()
        )
    found = ensure(tmp_path / "ours", ["auth", "slo"], now=T0 + timedelta(days=1))
    assert found.issued == ("auth",)
    _cert(ours.leaf("auth").cert).verify_directly_issued_by(_cert(ours.ca_cert))
    wider = ensure(tmp_path / "ours", ["slo"], now=T0, hosts=("localhost", "127.0.0.1", "::1"))
    assert wider.issued == ("slo",)


def test_a_damaged_or_mismatched_key_is_replaced_and_a_loose_mode_tightened(
    tmp_path: Path,
) -> None:
    """A key that is not PEM or not the certificate's means a new pair; a 0644 key becomes 0600."""
    ca = ensure(tmp_path / "tls", ["auth", "slo", "rollout"], now=T0).ca
    ca.leaf("auth").key.write_text("not a key")
    ca.leaf("slo").key.write_bytes(ca.leaf("rollout").key.read_bytes())
    ca.leaf("rollout").key.chmod(0o644)
    found = ensure(tmp_path / "tls", ["auth", "slo", "rollout"], now=T0)
    assert found.issued == ("auth", "slo")
    assert _mode(ca.leaf("rollout").key) == 0o600
    assert _mode(ca.leaf("auth").key) == 0o600


def test_a_damaged_ca_is_made_anew(tmp_path: Path) -> None:
    """A CA whose key is gone is replaced, and so is every leaf."""
    ca = ensure(tmp_path / "tls", ["auth"], now=T0).ca
    ca.ca.key.unlink()
    found = ensure(tmp_path / "tls", ["auth"], now=T0)
    assert found.new_ca
    assert found.issued == ("auth",)


def test_the_ca_name_is_not_an_identity(tmp_path: Path) -> None:
    """Asking for a leaf called "ca" would overwrite the CA: refused."""
    with pytest.raises(ValueError, match="CA's own name"):
        ensure(tmp_path / "tls", ["ca"], now=T0)
