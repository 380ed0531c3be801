"""A stand-in for a Kubernetes API server that checks the server-side apply protocol.

No cluster runs here, so adapters that apply manifests are tested against
this: a real HTTP server on 127.0.0.1 (a port it chose itself) that answers
GET, PATCH and DELETE on the paths the API server serves, keeps the objects,
and refuses (and records in `violations`) any apply that breaks the API's
rules for server-side apply:

- PATCH with `Content-Type: application/apply-patch+yaml`;
- a `fieldManager` query parameter (the one expected, when given);
- `force=true` (when expected);
- `dryRun=All` on every mutating request when dry runs are expected, and
  then nothing is stored;
- a body whose apiVersion, kind, namespace and name are those of the path,
  valid against the Kubernetes OpenAPI schemas (kubernetes-validate, strict).

It answers as the API server does: 201 for an object an apply created, 200
for one it updated, 404 with a `Status` for one that does not exist. Tests
can make applies of some kinds fail (`fail_kinds`) and hold the first apply
until released (`hold_first_apply`), to kill a client mid-request.

Deleting a Namespace removes every object in it, as the API server's
namespace controller does. With `namespace_terminating_gets` = n the
namespace first stays `Terminating` for the next n GETs of it (a real one
takes a while to empty): meanwhile another DELETE of it is 409 Conflict and
an apply creating an object in it is 403 Forbidden, as the API server answers.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import kubernetes_validate  # type: ignore[import-untyped] # the package ships no type information
import yaml

APPLY_PATCH = "application/apply-patch+yaml"
KUBERNETES_VERSION = "1.37.0"

# (group/version, plural) -> kind, and whether it lives in a namespace.
RESOURCES: dict[tuple[str, str], tuple[str, bool]] = {
    ("v1", "namespaces"): ("Namespace", False),
    ("v1", "resourcequotas"): ("ResourceQuota", True),
    ("v1", "limitranges"): ("LimitRange", True),
    ("networking.k8s.io/v1", "networkpolicies"): ("NetworkPolicy", True),
    ("rbac.authorization.k8s.io/v1", "roles"): ("Role", True),
    ("rbac.authorization.k8s.io/v1", "rolebindings"): ("RoleBinding", True),
}


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, str]
    content_type: str
    kind: str


@dataclass(frozen=True)
class ObjectPath:
    api_version: str
    kind: str
    namespace: str
    name: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.api_version, self.kind, self.namespace, self.name)


@dataclass
class FakeKubeApiServer:
    """`with FakeKubeApiServer().running() as api:` then point a client at `api.url`."""

    field_manager: str = ""
    expect_force: bool = True
    expect_dry_run: bool = False
    fail_kinds: set[str] = field(default_factory=set)
    hold_first_apply: bool = False
    namespace_terminating_gets: int = 0
    objects: dict[tuple[str, str, str, str], dict[str, Any]] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    url: str = ""
    # Set once the held apply has arrived; set `release` to let it through.
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _holding: bool = False
    # Terminating namespaces -> how many more GETs still find them.
    _terminating: dict[str, int] = field(default_factory=dict)

    @contextmanager
    def running(self) -> Iterator[FakeKubeApiServer]:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, name="fake-kube-api", daemon=True)
        thread.start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            yield self
        finally:
            self.release.set()
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

    def applied(self, kind: str | None = None) -> list[Seen]:
        """The PATCH requests received (of one kind), in order."""
        return [r for r in self.requests if r.method == "PATCH" and kind in (None, r.kind)]

    def finish_terminating(self) -> None:
        """Every terminating namespace is emptied and gone now, as the controller ends."""
        with self._lock:
            for namespace in list(self._terminating):
                self._purge(namespace)

    # ---- the protocol -------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, content_type: str, body: bytes
    ) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        target = _object_path(parts.path)
        with self._lock:
            self.requests.append(
                Seen(method, parts.path, query, content_type, target.kind if target else "")
            )
        if target is None:
            return _status(404, f"no such resource path {parts.path}")
        match method:
            case "GET":
                with self._lock:
                    found = self.objects.get(target.key)
                    if found is not None and target.kind == "Namespace":
                        found = self._still_terminating(target)
                return (200, found) if found else _status(404, f"{target.name} not found")
            case "PATCH":
                return self._apply(target, query, content_type, body)
            case "DELETE":
                return self._delete(target, query)
        return _status(405, f"{method} is not served here")

    def _apply(
        self, target: ObjectPath, query: dict[str, str], content_type: str, body: bytes
    ) -> tuple[int, dict[str, Any]]:
        problems = []
        if content_type.split(";", maxsplit=1)[0].strip() != APPLY_PATCH:
            problems.append(f"apply with Content-Type {content_type!r}, not {APPLY_PATCH}")
        manager = query.get("fieldManager", "")
        if not manager or (self.field_manager and manager != self.field_manager):
            problems.append(f"fieldManager {manager!r}, expected {self.field_manager!r}")
        if self.expect_force and query.get("force") != "true":
            problems.append("apply without force=true")
        problems += self._dry_run_problems(query)
        try:
            obj = yaml.safe_load(body)
        except yaml.YAMLError as exc:
            obj, problems = None, [*problems, f"body is not YAML: {exc}"]
        if isinstance(obj, dict):
            problems += _mismatches(target, obj)
            try:
                kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as exc:
                problems.append(f"{target.kind}/{target.name} is invalid: {exc.message}")
        elif obj is not None:
            problems.append("body is not an object")
        if problems or not isinstance(obj, dict):
            with self._lock:
                self.violations += problems
            return _status(400, "; ".join(problems))
        self._maybe_hold()
        if target.kind in self.fail_kinds:
            return _status(500, f"applying {target.kind} failed (injected)")
        with self._lock:
            created = target.key not in self.objects
            if created and target.namespace in self._terminating:
                return _status(
                    403,
                    f"unable to create new content in namespace {target.namespace}"
                    " because it is being terminated",
                )
            if query.get("dryRun") != "All":
                self.objects[target.key] = obj
        return (201 if created else 200), obj

    def _delete(self, target: ObjectPath, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        problems = self._dry_run_problems(query)
        if problems:
            with self._lock:
                self.violations += problems
            return _status(400, "; ".join(problems))
        with self._lock:
            if target.key not in self.objects:
                return _status(404, f"{target.name} not found")
            if query.get("dryRun") == "All":
                return _status(200, "deleted (dry run)")
            if target.kind != "Namespace":
                del self.objects[target.key]
            elif target.name in self._terminating:
                return _status(
                    409,
                    f"Operation cannot be fulfilled on namespaces {target.name!r}: The system"
                    " is ensuring all content is removed from this namespace.",
                )
            elif self.namespace_terminating_gets > 0:
                self._terminating[target.name] = self.namespace_terminating_gets
                self.objects[target.key] = {
                    **self.objects[target.key],
                    "status": {"phase": "Terminating"},
                }
            else:
                self._purge(target.name)
        return _status(200, "deleted")

    def _still_terminating(self, namespace: ObjectPath) -> dict[str, Any] | None:
        """The namespace as a GET finds it (None once purged); called holding the lock."""
        left = self._terminating.get(namespace.name)
        if left is None:
            return self.objects[namespace.key]
        if left <= 0:
            self._purge(namespace.name)
            return None
        self._terminating[namespace.name] = left - 1
        return self.objects[namespace.key]

    def _purge(self, namespace: str) -> None:
        """The namespace and everything in it gone; called holding the lock."""
        self._terminating.pop(namespace, None)
        for key in [
            k for k in self.objects if k[2] == namespace or k[1:] == ("Namespace", "", namespace)
        ]:
            del self.objects[key]

    def _dry_run_problems(self, query: dict[str, str]) -> list[str]:
        dry_run = query.get("dryRun")
        if self.expect_dry_run and dry_run != "All":
            return [f"dryRun={dry_run!r} where dryRun=All was asked for"]
        if not self.expect_dry_run and dry_run is not None:
            return [f"dryRun={dry_run!r} where none was asked for"]
        return []

    def _maybe_hold(self) -> None:
        with self._lock:
            hold = self.hold_first_apply and not self._holding
            self._holding = self._holding or hold
        if hold:
            self.held.set()
            self.release.wait(timeout=60)


def _object_path(path: str) -> ObjectPath | None:
    segments = [s for s in path.split("/") if s]
    if segments[:2] == ["api", "v1"]:
        group_version, rest = "v1", segments[2:]
    elif segments[:1] == ["apis"] and len(segments) >= 3:
        group_version, rest = f"{segments[1]}/{segments[2]}", segments[3:]
    else:
        return None
    namespace = ""
    if len(rest) == 4 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if len(rest) != 2:
        return None
    plural, name = rest
    found = RESOURCES.get((group_version, plural))
    if found is None:
        return None
    kind, namespaced = found
    if namespaced != bool(namespace):
        return None
    return ObjectPath(group_version, kind, namespace, name)


def _mismatches(target: ObjectPath, obj: dict[str, Any]) -> list[str]:
    metadata = obj.get("metadata") or {}
    found = (
        obj.get("apiVersion"),
        obj.get("kind"),
        metadata.get("namespace", target.namespace or ""),
        metadata.get("name"),
    )
    if found != target.key:
        return [f"body names {found}, the path {target.key}"]
    return []


def _status(code: int, message: str) -> tuple[int, dict[str, Any]]:
    reasons = {200: "", 400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed"}
    return code, {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if code < 300 else "Failure",
        "message": message,
        "reason": reasons.get(code, "InternalError"),
        "code": code,
    }


def _handler(api: FakeKubeApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            code, answer = api.handle(
                self.command, self.path, self.headers.get("Content-Type", ""), body
            )
            data = json.dumps(answer).encode()
            try:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client is gone (killed mid-request): nothing to answer

        do_GET = do_PATCH = do_DELETE = _serve  # noqa: N815 - http.server's handler names

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
            del format, args

    return Handler
