"""TLS for every connection the kernel makes: gRPC servers and channels, NATS, PostgreSQL.

Each function reads the PEM files its settings name, once, when the process
starts, and returns None when the hop is configured as plaintext. A file that
is named but cannot be read, or half a pair (a certificate without its key),
fails the start with `TlsConfigError` naming the setting, so a typo never
quietly turns TLS off.

Clients trust only the CA they are given (not the system's store) and check
the server's name against the host they dial, as libpq's sslmode=verify-full
does: a server with a certificate from another CA, or for another name, is
refused. Servers with a client CA require and check client certificates.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from portico_common.errors import TlsConfigError
from portico_common.grpc.client_tracing import TraceContextInterceptor
from portico_common.settings import (
    DatabaseTlsSettings,
    GrpcClientTlsSettings,
    NatsTlsSettings,
    ServiceSettings,
)

# Older protocol versions have no place on a hop we configure ourselves.
MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2


def env_name(setting: str) -> str:
    """The environment variable of a ServiceSettings field: `PORTICO_<FIELD>`."""
    return f"PORTICO_{setting.upper()}"


def read_pem(path: str, setting: str) -> bytes:
    """The file's bytes; TlsConfigError naming `setting` when it cannot be read."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise TlsConfigError(
            f"{env_name(setting)}={path!r} cannot be read: {exc.strerror or exc}"
        ) from None
    if b"-----BEGIN " not in data:
        raise TlsConfigError(f"{env_name(setting)}={path!r} is not a PEM file")
    return data


def _pair(cert: str, key: str, cert_setting: str, key_setting: str) -> bool:
    """Whether a certificate and its key are both set; an error when only one is."""
    if bool(cert) != bool(key):
        given, missing = (cert_setting, key_setting) if cert else (key_setting, cert_setting)
        raise TlsConfigError(f"{env_name(given)} is set but {env_name(missing)} is not")
    return bool(cert)


@dataclass(frozen=True)
class GrpcClientTls:
    """What a gRPC client needs for TLS: the CA it trusts and, for mutual TLS, its own pair."""

    root_certificates: bytes
    certificate_chain: bytes | None = None
    private_key: bytes | None = None

    def __repr__(self) -> str:
        return f"GrpcClientTls(client_certificate={self.certificate_chain is not None})"

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.root_certificates,
            private_key=self.private_key,
            certificate_chain=self.certificate_chain,
        )

    @classmethod
    def from_files(cls, ca_file: str, cert_file: str = "", key_file: str = "") -> GrpcClientTls:
        """Read from PEM files (the settings' names are used in errors)."""
        chain = key = None
        if _pair(cert_file, key_file, "grpc_tls_client_cert_file", "grpc_tls_client_key_file"):
            chain = read_pem(cert_file, "grpc_tls_client_cert_file")
            key = read_pem(key_file, "grpc_tls_client_key_file")
        return cls(read_pem(ca_file, "grpc_tls_ca_file"), chain, key)


def grpc_client_tls(settings: GrpcClientTlsSettings) -> GrpcClientTls | None:
    """The client side of gRPC TLS, or None for plaintext channels."""
    if not settings.grpc_tls_ca_file:
        if settings.grpc_tls_client_cert_file or settings.grpc_tls_client_key_file:
            raise TlsConfigError(
                "a gRPC client certificate is set but PORTICO_GRPC_TLS_CA_FILE is not:"
                " client certificates are only shown over TLS"
            )
        return None
    return GrpcClientTls.from_files(
        settings.grpc_tls_ca_file,
        settings.grpc_tls_client_cert_file,
        settings.grpc_tls_client_key_file,
    )


def grpc_channel(
    target: str,
    tls: GrpcClientTls | None,
    *,
    interceptors: Sequence[Any] | None = None,
    options: Sequence[tuple[str, Any]] = (),
) -> grpc.aio.Channel:
    """A grpc.aio channel to `target`: TLS when `tls` is given, plaintext otherwise.

    Every call on it continues the current trace (`grpc.client_tracing`).
    """
    chain: list[Any] = [TraceContextInterceptor(), *(interceptors or ())]
    if tls is None:
        return grpc.aio.insecure_channel(target, options=options, interceptors=chain)
    return grpc.aio.secure_channel(target, tls.credentials(), options=options, interceptors=chain)


def grpc_server_credentials(settings: ServiceSettings) -> grpc.ServerCredentials | None:
    """The gRPC server's TLS (mutual when a client CA is set), or None for plaintext."""
    serving = _pair(
        settings.grpc_tls_cert_file,
        settings.grpc_tls_key_file,
        "grpc_tls_cert_file",
        "grpc_tls_key_file",
    )
    if not serving:
        if settings.grpc_tls_client_ca_file:
            raise TlsConfigError(
                "PORTICO_GRPC_TLS_CLIENT_CA_FILE is set but PORTICO_GRPC_TLS_CERT_FILE is not:"
                " client certificates are only checked by a TLS server"
            )
        return None
    pair = (
        read_pem(settings.grpc_tls_key_file, "grpc_tls_key_file"),
        read_pem(settings.grpc_tls_cert_file, "grpc_tls_cert_file"),
    )
    client_ca = settings.grpc_tls_client_ca_file
    return grpc.ssl_server_credentials(
        [pair],
        root_certificates=read_pem(client_ca, "grpc_tls_client_ca_file") if client_ca else None,
        require_client_auth=bool(client_ca),
    )


def client_ssl_context(
    ca_file: str,
    cert_file: str = "",
    key_file: str = "",
    *,
    settings: tuple[str, str, str] = ("tls_ca_file", "tls_cert_file", "tls_key_file"),
) -> ssl.SSLContext:
    """A client context that trusts only `ca_file`'s CA and checks the server's name.

    `settings` names the three values in errors (e.g. the NATS settings).
    """
    ca_setting, cert_setting, key_setting = settings
    read_pem(ca_file, ca_setting)  # a clear error before ssl's terse one
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    context.minimum_version = MINIMUM_VERSION
    if _pair(cert_file, key_file, cert_setting, key_setting):
        read_pem(cert_file, cert_setting)
        read_pem(key_file, key_setting)
        try:
            context.load_cert_chain(cert_file, key_file)
        except ssl.SSLError as exc:
            raise TlsConfigError(
                f"{env_name(cert_setting)} and {env_name(key_setting)} do not make a pair:"
                f" {exc.reason or exc}"
            ) from None
    return context


def nats_ssl_context(settings: NatsTlsSettings) -> ssl.SSLContext | None:
    """TLS for the NATS connection, or None for plaintext."""
    if not settings.nats_tls_ca_file:
        if settings.nats_tls_cert_file or settings.nats_tls_key_file:
            raise TlsConfigError(
                "a NATS client certificate is set but PORTICO_NATS_TLS_CA_FILE is not"
            )
        return None
    return client_ssl_context(
        settings.nats_tls_ca_file,
        settings.nats_tls_cert_file,
        settings.nats_tls_key_file,
        settings=("nats_tls_ca_file", "nats_tls_cert_file", "nats_tls_key_file"),
    )


def database_ssl_context(settings: DatabaseTlsSettings) -> ssl.SSLContext | None:
    """sslmode=verify-full against the configured CA, or None to follow the URL."""
    if not settings.database_tls_ca_file:
        return None
    return client_ssl_context(
        settings.database_tls_ca_file, settings=("database_tls_ca_file", "", "")
    )
