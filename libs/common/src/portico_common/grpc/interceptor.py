"""One server interceptor for every cross-cutting concern of a unary RPC.

In order: continue the caller's trace, time and count the call, verify the
bearer token and its tenant, replay or claim an idempotency key, enforce a
deadline, and map Portico errors to gRPC status codes. Domain code raises
plain exceptions with a `code`; only here do they become statuses.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import descriptor_pool
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from opentelemetry.trace import SpanKind

from portico_common.errors import (
    InvalidArgumentError,
    PermissionDeniedError,
    UnauthenticatedError,
)
from portico_common.grpc.idempotency import IdempotencyStore, request_fingerprint
from portico_common.grpc.tokens import Claims, TokenVerifier, current_claims
from portico_common.metrics import GRPC_DURATION, GRPC_REQUESTS
from portico_common.tracing import current_ids, span_from

log = logging.getLogger(__name__)

# Reads never take idempotency keys; everything else may (CheckCompatibility
# records a check and emits an event, so it is not a read).
_READ_PREFIXES = ("Get", "List", "Resolve", "Watch")
_ALWAYS_PUBLIC = ("/grpc.health.v1.Health/", "/grpc.reflection.")

if TYPE_CHECKING:
    # The stubs make these generic; at run time they are plain classes.
    Context = grpc.aio.ServicerContext[Any, Any]
    _Interceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    Context = grpc.aio.ServicerContext
    _Interceptor = grpc.aio.ServerInterceptor
Behavior = Callable[[Any, Context], Awaitable[Any]]


class PorticoServerInterceptor(_Interceptor):
    """Wraps unary-unary handlers of one service."""

    def __init__(
        self,
        service: str,
        *,
        verifier: TokenVerifier | None,
        public_methods: Collection[str] = (),
        idempotency: IdempotencyStore | None = None,
        default_deadline_seconds: float = 30.0,
    ) -> None:
        self._service = service
        self._verifier = verifier
        self._public = set(public_methods)
        self._idempotency = idempotency
        self._default_deadline = default_deadline_seconds

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]
        ],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        method: str = details.method
        return grpc.unary_unary_rpc_method_handler(
            self._wrap(method, handler.unary_unary),  # type: ignore[arg-type] # aio handlers are async,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _wrap(self, method: str, behavior: Behavior) -> Behavior:
        short = method.rsplit("/", 1)[-1]
        public = method in self._public or method.startswith(_ALWAYS_PUBLIC)
        # Public methods (token issuance) never store responses: they may hold secrets.
        mutating = not public and not short.startswith(_READ_PREFIXES)

        async def wrapped(request: Any, context: Context) -> Any:
            metadata = {
                k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)
            }
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            with span_from(metadata, method, kind=SpanKind.SERVER):
                try:
                    if not public:
                        _reject_wildcard_tenant(request)
                    claims = None if public else await self._authenticate(metadata, request)
                    token = current_claims.set(claims)
                    try:
                        return await self._call(
                            method, mutating, behavior, request, context, metadata
                        )
                    finally:
                        current_claims.reset(token)
                except grpc.aio.AbortError:
                    code = context.code()
                    raise
                except Exception as exc:
                    code, message = _status_of(exc)
                    if code is grpc.StatusCode.INTERNAL:
                        trace_id, _ = current_ids()
                        log.exception("unhandled error", extra={"method": method})
                        message = f"internal error (trace {trace_id or 'n/a'})"
                    await context.abort(code, message)
                finally:
                    name = code.name if isinstance(code, grpc.StatusCode) else str(code)
                    GRPC_REQUESTS.labels(self._service, short, name).inc()
                    GRPC_DURATION.labels(self._service, short).observe(
                        time.perf_counter() - started
                    )

        return wrapped

    async def _authenticate(self, metadata: dict[str, str], request: Any) -> Claims | None:
        if self._verifier is None:
            return None
        header = metadata.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise UnauthenticatedError("missing bearer token (metadata 'authorization')")
        claims = await self._verifier.verify(token.strip())
        tenant = getattr(request, "tenant_id", None)
        if isinstance(tenant, str) and tenant and not claims.allows_tenant(tenant):
            raise PermissionDeniedError(
                f"token for tenant {claims.tenant_id!r} cannot act for tenant {tenant!r}"
            )
        return claims

    async def _call(  # noqa: PLR0917 - private, called from one place
        self,
        method: str,
        mutating: bool,
        behavior: Behavior,
        request: Any,
        context: Context,
        metadata: dict[str, str],
    ) -> Any:
        remaining = context.time_remaining()
        timeout = self._default_deadline if remaining is None else max(0.0, remaining)
        key = metadata.get("idempotency-key")
        # Keys live in the request's tenant, else the caller's: never shared across tenants.
        claims = current_claims.get()
        tenant = getattr(request, "tenant_id", "") or (claims.tenant_id if claims else "") or "*"
        if key is None or not mutating or self._idempotency is None:
            async with asyncio.timeout(timeout):
                return await behavior(request, context)
        fingerprint = request_fingerprint(method, request.SerializeToString(deterministic=True))
        stored = await self._idempotency.begin(tenant, key, method, fingerprint)
        if stored is not None:
            response = _response_class(method)()
            response.ParseFromString(stored)
            context.set_trailing_metadata((("idempotent-replayed", "true"),))
            return response
        try:
            async with asyncio.timeout(timeout):
                response = await behavior(request, context)
        except BaseException:
            await self._idempotency.release(tenant, key)
            raise
        await self._idempotency.complete(
            tenant, key, response.SerializeToString(deterministic=True)
        )
        return response


def _reject_wildcard_tenant(request: Any) -> None:
    # "*" means "every tenant" to the database layer; no request may ask for it.
    if getattr(request, "tenant_id", None) == "*":
        raise InvalidArgumentError("tenant_id '*' is not a tenant")


def _status_of(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    if isinstance(exc, TimeoutError):
        return grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded"
    code = getattr(exc, "code", None)
    if isinstance(code, str) and code in grpc.StatusCode.__members__:
        return grpc.StatusCode[code], str(exc) or type(exc).__name__
    return grpc.StatusCode.INTERNAL, ""


def _response_class(method: str) -> type[Message]:
    service, _, name = method.lstrip("/").rpartition("/")
    found = descriptor_pool.Default().FindServiceByName(service).methods_by_name[name]
    return GetMessageClass(found.output_type)
