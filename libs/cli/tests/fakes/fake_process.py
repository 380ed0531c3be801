"""A stand-in for one Portico process, for testing `portico up` without the real suite.

Serves what `portico up` probes (gRPC health for a service, GET /healthz for
the gateway) on the ports it is given (0: any), writes the ready file the
real processes write, records the PORTICO_* environment it was given, and
stops on SIGTERM. FAKE_CRASH=<name> makes that process fail at start;
FAKE_DIE=<name> makes it exit a moment after it became healthy;
FAKE_SLOW=<name> makes it take 30 s to start; FAKE_PORT_TAKEN=<name> makes
it fail to bind any port but 0, as when another process took it first
(a comma-separated list of names, or "*" for every process).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def _record(name: str) -> None:
    record_dir = os.environ.get("FAKE_RECORD_DIR")
    if record_dir:
        env = {k: v for k, v in os.environ.items() if k.startswith("PORTICO_")}
        env["pid"] = str(os.getpid())
        # One record per start, so a retried process leaves both.
        path = Path(record_dir, f"{name}.json")
        if path.exists():
            path = Path(record_dir, f"{name}.{os.getpid()}.retry.json")
        path.write_text(json.dumps(env))


def _ready(path_variable: str, **ports: int) -> None:
    """Written whole, then renamed into place, as the kernel does."""
    path = Path(os.environ[path_variable])
    scratch = path.with_name(f".{path.name}.{os.getpid()}")
    scratch.write_text(json.dumps({**ports, "pid": os.getpid()}))
    scratch.replace(path)


def _http(port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), _Healthz)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class _Healthz(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = 200 if self.path == "/healthz" else 404
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')

    def log_message(self, *_args: object) -> None:
        pass


def _bind(server: Any, address: str) -> int:
    """As the kernel does: mutual TLS when `portico up` gives a certificate and a client CA."""
    import grpc

    cert = os.environ.get("PORTICO_GRPC_TLS_CERT_FILE")
    if not cert:
        return int(server.add_insecure_port(address))
    key = Path(os.environ["PORTICO_GRPC_TLS_KEY_FILE"]).read_bytes()
    client_ca = Path(os.environ["PORTICO_GRPC_TLS_CLIENT_CA_FILE"]).read_bytes()
    credentials = grpc.ssl_server_credentials(
        [(key, Path(cert).read_bytes())], root_certificates=client_ca, require_client_auth=True
    )
    return int(server.add_secure_port(address, credentials))


def serve(name: str) -> None:
    _record(name)
    print(f"{name}: starting", flush=True)
    if os.environ.get("FAKE_CRASH") == name:
        print(f"{name}: boom, cannot connect to the database", file=sys.stderr, flush=True)
        sys.exit(3)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if os.environ.get("FAKE_SLOW") == name and stop.wait(30):
        print(f"{name}: stopped while starting", flush=True)
        return
    port_variable = "PORTICO_GATEWAY_PORT" if name == "gateway" else "PORTICO_GRPC_PORT"
    port = int(os.environ[port_variable])
    taken = os.environ.get("FAKE_PORT_TAKEN", "").split(",")
    if (name in taken or "*" in taken) and port != 0:
        print(f"{name}: Failed to bind to address 127.0.0.1:{port}", file=sys.stderr, flush=True)
        sys.exit(1)
    if name == "gateway":
        server = _http(port)
        shutdown = server.shutdown
        _ready("PORTICO_GATEWAY_READY_FILE", port=server.server_address[1])
    else:
        import grpc
        from grpc_health.v1 import health, health_pb2, health_pb2_grpc

        grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        servicer = health.HealthServicer()
        servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(servicer, grpc_server)
        bound = _bind(grpc_server, f"127.0.0.1:{port}")
        grpc_server.start()
        metrics = _http(int(os.environ["PORTICO_METRICS_PORT"]))

        def shutdown() -> None:
            metrics.shutdown()
            grpc_server.stop(1).wait()

        _ready("PORTICO_READY_FILE", grpc_port=bound, metrics_port=metrics.server_address[1])

    print(f"{name}: serving", flush=True)
    if os.environ.get("FAKE_DIE") == name:
        time.sleep(1.0)
        print(f"{name}: out of memory", file=sys.stderr, flush=True)
        os._exit(4)
    while not stop.wait(0.1):
        pass
    shutdown()
    print(f"{name}: stopped", flush=True)
