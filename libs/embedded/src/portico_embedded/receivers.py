"""Local HTTP receivers for alert channels: a server on a port it binds itself, and the
PagerDuty Events API v2 endpoint, validating each event against the API's format.

Tests of slo's channels, the end-to-end tests and `portico demo` deliver pages
to these instead of the real service; what is sent is kept in `requests`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# jsonschema ships no type information (its stubs are a separate package).
import jsonschema  # type: ignore[import-untyped]

Answer = tuple[int, str]


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """A receiver on 127.0.0.1; `respond` decides each answer, `requests` keeps what came."""

    respond: Callable[[Request], Answer]
    requests: list[Request] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        if self.server is None:
            raise RuntimeError("the receiver is not started")
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> HttpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                request = Request(self.path, dict(self.headers.items()), self.rfile.read(length))
                receiver.requests.append(request)
                status, body = receiver.respond(request)
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def schema_errors(schema: dict[str, Any], document: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


# PagerDuty Events API v2 (POST /v2/enqueue).
PAGERDUTY_EVENT = {
    "type": "object",
    "required": ["routing_key", "event_action"],
    "properties": {
        "routing_key": {"type": "string", "minLength": 32, "maxLength": 32},
        "event_action": {"enum": ["trigger", "acknowledge", "resolve"]},
        "dedup_key": {"type": "string", "minLength": 1, "maxLength": 255},
        "client": {"type": "string"},
        "client_url": {"type": "string"},
        "images": {"type": "array"},
        "links": {"type": "array"},
        "payload": {
            "type": "object",
            "required": ["summary", "source", "severity"],
            "properties": {
                "summary": {"type": "string", "minLength": 1, "maxLength": 1024},
                "source": {"type": "string", "minLength": 1},
                "severity": {"enum": ["critical", "error", "warning", "info"]},
                "timestamp": {"type": "string"},
                "component": {"type": "string"},
                "group": {"type": "string"},
                "class": {"type": "string"},
                "custom_details": {"type": "object"},
            },
            "additionalProperties": False,
        },
    },
    "allOf": [
        {
            "if": {"properties": {"event_action": {"const": "trigger"}}},
            "then": {"required": ["payload"]},
        },
        {
            "if": {"properties": {"event_action": {"enum": ["acknowledge", "resolve"]}}},
            "then": {"required": ["dedup_key"]},
        },
    ],
    "additionalProperties": False,
}


def pagerduty_events(request: Request) -> Answer:
    """PagerDuty's enqueue endpoint: 202 with the dedup key, or 400 with the errors."""
    if request.path != "/v2/enqueue":
        return 404, "{}"
    event = request.json()
    errors = schema_errors(PAGERDUTY_EVENT, event)
    timestamp = event.get("payload", {}).get("timestamp")
    if timestamp is not None:
        try:
            datetime.fromisoformat(timestamp)
        except ValueError:
            errors.append(f"timestamp {timestamp!r} is not ISO 8601")
    if errors:
        body = {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
        return 400, json.dumps(body)
    accepted = {"status": "success", "message": "Event processed", "dedup_key": event["dedup_key"]}
    return 202, json.dumps(accepted)


def pagerduty_receiver() -> HttpReceiver:
    """A started PagerDuty-format receiver: POST events to `url + "/v2/enqueue"`."""
    return HttpReceiver(pagerduty_events).start()
