"""A stand-in for one Portico process, for testing `portico up` without the real suite.

Serves what `portico up` probes (gRPC health for a service, GET /healthz for
the gateway), records the PORTICO_* environment it was given, and stops on
SIGTERM. FAKE_CRASH=<name> makes that process fail at start;
FAKE_DIE=<name> makes it exit a moment after it became healthy;
FAKE_SLOW=<name> makes it take 30 s to start.
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


def _record(name: str) -> None:
    record_dir = os.environ.get("FAKE_RECORD_DIR")
    if record_dir:
        env = {k: v for k, v in os.environ.items() if k.startswith("PORTICO_")}
        env["pid"] = str(os.getpid())
        Path(record_dir, f"{name}.json").write_text(json.dumps(env))


class _Healthz(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = 200 if self.path == "/healthz" else 404
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')

    def log_message(self, *_args: object) -> None:
        pass


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
    if name == "gateway":
        server = ThreadingHTTPServer(
            ("127.0.0.1", int(os.environ["PORTICO_GATEWAY_PORT"])), _Healthz
        )
        threading.Thread(target=server.serve_forever, daemon=True).start()
        shutdown = server.shutdown
    else:
        import grpc
        from grpc_health.v1 import health, health_pb2, health_pb2_grpc

        grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        servicer = health.HealthServicer()
        servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(servicer, grpc_server)
        grpc_server.add_insecure_port(f"127.0.0.1:{os.environ['PORTICO_GRPC_PORT']}")
        grpc_server.start()

        def shutdown() -> None:
            grpc_server.stop(1).wait()

    print(f"{name}: serving", flush=True)
    if os.environ.get("FAKE_DIE") == name:
        time.sleep(1.0)
        print(f"{name}: out of memory", file=sys.stderr, flush=True)
        os._exit(4)
    while not stop.wait(0.1):
        pass
    shutdown()
    print(f"{name}: stopped", flush=True)
