"""A local certificate authority for `portico up`: one CA and a certificate per identity.

Everything lives in one directory (`.portico/tls/`, mode 0700): `ca.crt`,
`ca.key` and `<name>.crt` / `<name>.key` per identity (each service, the
gateway, NATS, PostgreSQL, the CLI). Keys are written 0600 from the first
byte. Every key is ECDSA P-256: every peer here speaks it (grpc's
BoringSSL, Go's crypto/tls in nats-server, PostgreSQL's OpenSSL, Python's
ssl, browsers), which Ed25519 certificates cannot promise.

The CA is valid for a year, leaves for 90 days, with SANs `localhost` and
`127.0.0.1`, for serverAuth and clientAuth (one identity serves and calls).
A run reuses what it finds while it is good: a leaf is reissued when less
than a third of its life is left, when another CA signed it, when its names
changed or its key does not match; the CA is renewed when it has less than a
leaf's lifetime left (a leaf must never outlive its CA), which reissues every
leaf. Time is a parameter, so tests move it.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_LIFETIME = timedelta(days=365)
LEAF_LIFETIME = timedelta(days=90)
# Reissued with less than this left, so a running suite never meets an expiry.
LEAF_RENEW_BEFORE = LEAF_LIFETIME / 3
# The CA is renewed while a fresh leaf would still end before it does.
CA_RENEW_BEFORE = LEAF_LIFETIME
# Issued a little in the past: a peer whose clock is behind still accepts it.
BACKDATE = timedelta(minutes=5)
HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1")
CA_NAME = "ca"
_ORGANISATION = "Portico local development"


@dataclass(frozen=True)
class Pair:
    """A certificate and its key, as files."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class LocalCa:
    """The CA's directory; `leaf(name)` is the pair of one identity."""

    directory: Path

    @property
    def ca(self) -> Pair:
        return self.leaf(CA_NAME)

    @property
    def ca_cert(self) -> Path:
        return self.ca.cert

    def leaf(self, name: str) -> Pair:
        return Pair(self.directory / f"{name}.crt", self.directory / f"{name}.key")


@dataclass(frozen=True)
class Issued:
    """What `ensure` did: the CA, whether it was (re)made, and the leaves it (re)issued."""

    ca: LocalCa
    new_ca: bool
    issued: tuple[str, ...]


def ensure(
    directory: Path,
    names: Iterable[str],
    *,
    now: datetime | None = None,
    hosts: Sequence[str] = HOSTS,
) -> Issued:
    """The CA and a good certificate for every name in `directory`, made or renewed as needed."""
    now = now or datetime.now(UTC)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    ca = LocalCa(directory)
    found = _load(ca.ca)
    new_ca = found is None or not _ca_good(*found, now)
    if found is None or new_ca:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = _ca_certificate(ca_key, now)
        _write(ca.ca, ca_cert, ca_key)
    else:
        ca_cert, ca_key = found
    issued = []
    for name in names:
        if name == CA_NAME:
            raise ValueError(f"{CA_NAME!r} is the CA's own name")
        pair = ca.leaf(name)
        current = _load(pair)
        if current is None or not _leaf_good(*current, ca_cert, hosts, now):
            key = ec.generate_private_key(ec.SECP256R1())
            leaf = _leaf_certificate(name, key, ca_cert, ca_key, hosts=hosts, now=now)
            _write(pair, leaf, key)
            issued.append(name)
    return Issued(ca, new_ca, tuple(issued))


def _ca_good(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, now: datetime) -> bool:
    return _matches(cert, key) and _within(cert, now, CA_RENEW_BEFORE) and _is_ca(cert)


def _leaf_good(
    cert: x509.Certificate,
    key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    hosts: Sequence[str],
    now: datetime,
) -> bool:
    if not (_matches(cert, key) and _within(cert, now, LEAF_RENEW_BEFORE)):
        return False
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return _names_of(cert) == set(_subject_alternative_names(hosts))


def _within(cert: x509.Certificate, now: datetime, margin: timedelta) -> bool:
    """Valid now, and still for `margin` to come."""
    return cert.not_valid_before_utc <= now and now + margin <= cert.not_valid_after_utc


def _matches(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> bool:
    return cert.public_key() == key.public_key()


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _names_of(cert: x509.Certificate) -> set[x509.GeneralName]:
    try:
        return set(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        return set()


def _subject_alternative_names(hosts: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORGANISATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ca_certificate(key: ec.EllipticCurvePrivateKey, now: datetime) -> x509.Certificate:
    name = _name("Portico local CA")
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def _leaf_certificate(
    identity: str,
    key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    *,
    hosts: Sequence[str],
    now: datetime,
) -> x509.Certificate:
    public = key.public_key()
    # Never past the CA's own end (the CA is renewed before that could bite).
    end = min(now + LEAF_LIFETIME, ca_cert.not_valid_after_utc)
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(_name(f"portico {identity}"))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.SubjectAlternativeName(_subject_alternative_names(hosts)), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )


def _load(pair: Pair) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    """The pair if both files parse (an EC key); None when either is missing or damaged."""
    try:
        cert = x509.load_pem_x509_certificate(pair.cert.read_bytes())
        key = serialization.load_pem_private_key(pair.key.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    if pair.key.stat().st_mode & 0o077:
        pair.key.chmod(0o600)
    return cert, key


def _write(pair: Pair, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    """Key first (0600 from the first byte), then the certificate; each renamed into place."""
    _replace(
        pair.key,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        0o600,
    )
    _replace(pair.cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _replace(path: Path, data: bytes, mode: int) -> None:
    scratch = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    scratch.chmod(mode)  # the umask may have taken bits a certificate should have
    scratch.replace(path)
