"""One server interceptor for every cross-cutting concern of an RPC, unary or streaming.

In order: continue the caller's trace, time and count the call, verify the
bearer token and its tenant, refuse a suspended tenant's tokens, check the
permission the RPC declares in its proto against the token's roles (and scopes), replay or claim an
idempotency key, enforce a deadline, and map Portico errors to gRPC status
codes. Domain code raises plain exceptions with a `code`; only here do they
become statuses. No servicer checks tokens itself.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import any_pb2, descriptor_pool, duration_pb2
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

# googleapis-common-protos (a dependency of the contracts) ships no type information.
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]
from opentelemetry.trace import SpanKind

from portico_common.authz.access import MethodAccess, method_access
from portico_common.authz.policy import RolePolicy, default_policy
from portico_common.errors import (
    InvalidArgumentError,
    PermissionDeniedError,
    UnauthenticatedError,
)
from portico_common.grpc.denials import DenialLog
from portico_common.grpc.idempotency import IdempotencyStore, request_fingerprint
from portico_common.grpc.tenant_caps import TenantConcurrency
from portico_common.grpc.tokens import Claims, TokenVerifier, current_claims
from portico_common.idempotency_effects import KeyClaim, current_claim
from portico_common.metrics import GRPC_DURATION, GRPC_REQUESTS, observe_latency
from portico_common.outages import as_unavailable
from portico_common.tenant_status import RefusedTenants
from portico_common.tenants import ALL_TENANTS
from portico_common.tracing import current_ids, span_from

log = logging.getLogger(__name__)

# Reads never take idempotency keys; everything else may (CheckCompatibility
# records a check and emits an event, so it is not a read).
_READ_PREFIXES = ("Get", "List", "Resolve", "Watch")
_REFLECTION = "/grpc.reflection."
_LIFECYCLE = "/portico.tenancy.v1.TenantLifecycleService/"
# The ErrorInfo of an outage: the gateway names the dependency from it.
ERROR_DOMAIN = "portico.dev"
DEPENDENCY_UNAVAILABLE = "DEPENDENCY_UNAVAILABLE"

if TYPE_CHECKING:
    # The stubs make these generic; at run time they are plain classes.
    Context = grpc.aio.ServicerContext[Any, Any]
    _Interceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    Context = grpc.aio.ServicerContext
    _Interceptor = grpc.aio.ServerInterceptor
Behavior = Callable[[Any, Context], Awaitable[Any]]
StreamBehavior = Callable[[Any, Context], AsyncIterator[Any]]


class PorticoServerInterceptor(_Interceptor):
    """Wraps the unary-unary and unary-stream handlers of one service."""

    def __init__(
        self,
        service: str,
        *,
        verifier: TokenVerifier | None,
        policy: RolePolicy | None = None,
        idempotency: IdempotencyStore | None = None,
        denials: DenialLog | None = None,
        default_deadline_seconds: float = 30.0,
        refused: RefusedTenants | None = None,
        tenant_caps: TenantConcurrency | None = None,
    ) -> None:
        self._service = service
        # Per-tenant caps on concurrent calls of heavy methods (noisy neighbours).
        self._caps = tenant_caps
        self._verifier = verifier
        self._policy = policy or default_policy()
        self._idempotency = idempotency
        self._denials = denials
        self._default_deadline = default_deadline_seconds
        # Suspended (or deleting) tenants, whose tokens are refused before their expiry.
        self._refused = refused

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]
        ],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler: grpc.RpcMethodHandler[Any, Any] | None = await continuation(details)
        if handler is None:
            return None  # type: ignore[return-value] # gRPC answers UNIMPLEMENTED
        method: str = details.method
        access = self._access(method)
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap(method, access, handler.unary_unary),  # type: ignore[arg-type] # aio handlers are async
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None and not inspect.isasyncgenfunction(
            handler.unary_stream
        ):
            # Streams written with context.write (the health service's Watch)
            # are awaited whole: admission first, then the handler as it is.
            return grpc.unary_stream_rpc_method_handler(
                self._wrap(method, access, handler.unary_stream, stream=True),  # type: ignore[arg-type]
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(method, access, handler.unary_stream),  # type: ignore[arg-type]
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if method.startswith(_REFLECTION) and handler.stream_stream is not None:
            # Server reflection, registered only where `grpc_reflection` is on,
            # describes the schema and holds no tenant's data.
            return handler
        # Request streams would reach the servicer before a tenant could be
        # checked; no Portico RPC takes one, so none is served unchecked.
        return grpc.unary_unary_rpc_method_handler(_refuse_request_streams)

    def _access(self, method: str) -> MethodAccess:
        # Only the proto's option makes a method public: no service can exempt its own.
        return method_access(method)

    # ---- the two call shapes ------------------------------------------------

    def _wrap(
        self, method: str, access: MethodAccess, behavior: Behavior, *, stream: bool = False
    ) -> Behavior:
        short = method.rsplit("/", 1)[-1]
        # Unauthenticated methods (token issuance) never store responses: they may
        # hold secrets. Streams replay nothing: their answer is not one message.
        mutating = not (access.unauthenticated or stream or short.startswith(_READ_PREFIXES))

        async def wrapped(request: Any, context: Context) -> Any:
            metadata = _metadata(context)
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            with span_from(metadata, method, kind=SpanKind.SERVER):
                try:
                    claims = await self._admit(method, access, request, metadata)
                    token = current_claims.set(claims)
                    try:
                        async with self._held(method, request, claims):
                            if stream:
                                # Only the client's own deadline bounds a written stream.
                                return await behavior(request, context)
                            return await self._call(
                                method, mutating, behavior, request, context, metadata
                            )
                    finally:
                        current_claims.reset(token)
                except grpc.aio.AbortError:
                    code = context.code()
                    raise
                except Exception as raised:  # noqa: BLE001 - every error becomes a status
                    exc = caller_error(raised)
                    code, message = _status_for(method, exc)
                    await context.abort(code, message, _error_details(code, message, exc))
                finally:
                    self._observe(short, code, started)

        return wrapped

    def _wrap_stream(
        self, method: str, access: MethodAccess, behavior: StreamBehavior
    ) -> StreamBehavior:
        short = method.rsplit("/", 1)[-1]

        async def wrapped(request: Any, context: Context) -> AsyncIterator[Any]:
            metadata = _metadata(context)
            started = time.perf_counter()
            # A client that goes away mid-stream leaves the call CANCELLED.
            code = grpc.StatusCode.CANCELLED
            with span_from(metadata, method, kind=SpanKind.SERVER):
                try:
                    claims = await self._admit(method, access, request, metadata)
                    token = current_claims.set(claims)
                    try:
                        async with self._held(method, request, claims):
                            deadline = self._stream_deadline(short, context)
                            items = aiter(behavior(request, context))
                            while True:
                                # The deadline bounds the work between messages,
                                # never the time the client takes to read them.
                                async with asyncio.timeout_at(deadline):
                                    try:
                                        item = await anext(items)
                                    except StopAsyncIteration:
                                        break
                                yield item
                        code = grpc.StatusCode.OK
                    finally:
                        current_claims.reset(token)
                except grpc.aio.AbortError:
                    code = context.code()
                    raise
                except Exception as raised:  # noqa: BLE001 - every error becomes a status
                    exc = caller_error(raised)
                    code, message = _status_for(method, exc)
                    await context.abort(code, message, _error_details(code, message, exc))
                finally:
                    self._observe(short, code, started)

        return wrapped

    def _held(
        self, method: str, request: Any, claims: Claims | None
    ) -> AbstractAsyncContextManager[None]:
        """The tenant's slot for a capped heavy method (nothing to hold for the others)."""
        if self._caps is None or not self._caps.caps(method):
            return nullcontext()
        tenant = _request_tenant(request) or (claims.tenant_id if claims else "") or ALL_TENANTS
        return self._caps.hold(tenant, method)

    def _stream_deadline(self, short: str, context: Context) -> float | None:
        """When a server stream must be done by (event-loop time); None: unbounded.

        A watch (`Watch*`) waits for changes as long as its caller listens, so
        only the caller's own deadline bounds it; other streams get the default.
        """
        # The stubs say float; grpc answers None when the caller set no deadline.
        remaining: float | None = context.time_remaining()
        if remaining is None and short.startswith("Watch"):
            return None
        return asyncio.get_running_loop().time() + self._timeout(context)

    def _observe(self, short: str, code: object, started: float) -> None:
        name = code.name if isinstance(code, grpc.StatusCode) else str(code)
        GRPC_REQUESTS.labels(self._service, short, name).inc()
        observe_latency(GRPC_DURATION.labels(self._service, short), time.perf_counter() - started)

    # ---- admission: token, tenant, permission -------------------------------

    async def _admit(
        self, method: str, access: MethodAccess, request: Any, metadata: dict[str, str]
    ) -> Claims | None:
        if access.unauthenticated:
            return None
        if not access.declared:
            # Fail closed: an RPC without a declared permission is never served.
            raise PermissionDeniedError(f"{method} declares no permission; it is not served")
        _reject_wildcard_tenant(request)
        if self._verifier is None:
            # The explicitly unsafe mode without tokens: the request's tenant is the caller's.
            self._check_refused(method, _request_tenant(request))
            return None
        claims = await self._authenticate(metadata, request)
        self._check_refused(method, claims.tenant_id)
        if not self._policy.allows(claims.roles, access.permission, claims.scopes):
            tenant = _request_tenant(request) or claims.tenant_id
            if self._denials is not None and tenant != ALL_TENANTS:
                await self._denials.record(tenant, claims, method, access.permission)
            raise PermissionDeniedError(_denial_message(claims, access.permission))
        return claims

    def _check_refused(self, method: str, tenant_id: str) -> None:
        # The lifecycle's own RPCs (resume, restore: platform permissions no tenant
        # role holds) must reach a refused tenant, or it could never come back.
        if self._refused is not None and not method.startswith(_LIFECYCLE):
            short = method.rsplit("/", 1)[-1]
            self._refused.check(tenant_id, read=short.startswith(_READ_PREFIXES))

    async def _authenticate(self, metadata: dict[str, str], request: Any) -> Claims:
        if self._verifier is None:  # pragma: no cover - checked by the caller
            raise UnauthenticatedError("no token verifier configured")
        header = metadata.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise UnauthenticatedError("missing bearer token (metadata 'authorization')")
        claims = await self._verifier.verify(token.strip())
        tenant = _request_tenant(request)
        if tenant and not claims.allows_tenant(tenant):
            raise PermissionDeniedError(
                f"token for tenant {claims.tenant_id!r} cannot act for tenant {tenant!r}"
            )
        return claims

    # ---- deadline and idempotency -------------------------------------------

    def _timeout(self, context: Context) -> float:
        remaining = context.time_remaining()
        return self._default_deadline if remaining is None else max(0.0, remaining)

    async def _call(  # noqa: PLR0917 - private, called from one place
        self,
        method: str,
        mutating: bool,
        behavior: Behavior,
        request: Any,
        context: Context,
        metadata: dict[str, str],
    ) -> Any:
        timeout = self._timeout(context)
        key = metadata.get("idempotency-key")
        # Keys live in the request's tenant, else the caller's: never shared across tenants.
        claims = current_claims.get()
        tenant = _request_tenant(request) or (claims.tenant_id if claims else "") or ALL_TENANTS
        if key is None or not mutating or self._idempotency is None:
            async with asyncio.timeout(timeout):
                return await behavior(request, context)
        fingerprint = request_fingerprint(method, request.SerializeToString(deterministic=True))
        subject = claims.subject if claims else ""
        attempt = uuid.uuid4().hex
        stored = await self._idempotency.begin(
            tenant, key, method, fingerprint, subject, attempt=attempt
        )
        if stored is not None:
            response = _response_class(method)()
            response.ParseFromString(stored)
            context.set_trailing_metadata((("idempotent-replayed", "true"),))
            return response
        # Every transaction the handler commits records the key with its effect.
        claimed = current_claim.set(KeyClaim(tenant, key, attempt))
        try:
            try:
                async with asyncio.timeout(timeout):
                    response = await behavior(request, context)
            finally:
                # The key's own bookkeeping below is no effect of the request's.
                current_claim.reset(claimed)
        except BaseException:
            try:
                await self._idempotency.release(tenant, key, attempt)
            except Exception as exc:  # noqa: BLE001 - the store releases it later itself
                log.warning("idempotency key not released yet", extra={"error": str(exc)})
            raise
        await self._idempotency.complete(
            tenant, key, _storable(response).SerializeToString(deterministic=True), attempt
        )
        return response


def _metadata(context: Context) -> dict[str, str]:
    return {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}


def _request_tenant(request: Any) -> str:
    """The tenant a request acts for: its `tenant_id`, or that of a nested `check`."""
    tenant = getattr(request, "tenant_id", None)
    if isinstance(tenant, str) and tenant:
        return tenant
    for field in ("check",):
        nested = getattr(request, field, None)
        tenant = getattr(nested, "tenant_id", None)
        if isinstance(tenant, str) and tenant:
            return tenant
    return ""


def _reject_wildcard_tenant(request: Any) -> None:
    # "*" means "every tenant" to the database layer; no request may ask for it.
    if _request_tenant(request) == ALL_TENANTS:
        raise InvalidArgumentError("tenant_id '*' is not a tenant")


def _denial_message(claims: Claims, permission: str) -> str:
    roles = ", ".join(claims.roles) or "none"
    message = f"missing permission {permission!r}: the token's roles ({roles}) do not grant it"
    if claims.scopes:
        message += f", or its scopes ({', '.join(claims.scopes)}) exclude it"
    return message


def caller_error(exc: Exception) -> Exception:
    """The error a caller is shown: a dependency's outage as UNAVAILABLE, else `exc`.

    An error a service raised on purpose keeps its category; only uncategorised
    ones (INTERNAL) are looked at for an unreachable PostgreSQL, NATS or service.
    """
    if isinstance(exc, TimeoutError) or getattr(exc, "code", "INTERNAL") != "INTERNAL":
        return exc
    outage = as_unavailable(exc)
    if outage is None:
        return exc
    log.warning(
        "dependency unreachable",
        extra={"dependency": outage.dependency, "error": f"{type(exc).__name__}: {exc}"},
    )
    return outage


def _status_for(method: str, exc: Exception) -> tuple[grpc.StatusCode, str]:
    """The status an error ends the call with; an unexpected one is logged, its text hidden."""
    code, message = _status_of(exc)
    if code is grpc.StatusCode.INTERNAL:
        trace_id, _ = current_ids()
        log.error("unhandled error", extra={"method": method}, exc_info=exc)
        message = f"internal error (trace {trace_id or 'n/a'})"
    return code, message


async def _refuse_request_streams(_request: Any, context: Context) -> None:
    await context.abort(grpc.StatusCode.UNIMPLEMENTED, "request streams are not served")


def _status_of(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    if isinstance(exc, TimeoutError):
        return grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded"
    code = getattr(exc, "code", None)
    if isinstance(code, str) and code in grpc.StatusCode.__members__:
        return grpc.StatusCode[code], str(exc) or type(exc).__name__
    return grpc.StatusCode.INTERNAL, ""


def _storable(response: Message) -> Message:
    """The response as an idempotency key keeps it: fields marked `debug_redact` cleared.

    A secret shown once (a rotated client secret) is never written to the
    database; a replay answers the rest of the response without it.
    """
    redacted = [f for f in response.DESCRIPTOR.fields if f.GetOptions().debug_redact]
    if not redacted:
        return response
    copy = type(response)()
    copy.CopyFrom(response)
    for found in redacted:
        copy.ClearField(found.name)
    return copy


def _error_details(
    code: grpc.StatusCode, message: str, exc: BaseException
) -> tuple[tuple[str, bytes], ...]:
    """A google.rpc.Status trailer: a RetryInfo when the error says when to retry, an
    ErrorInfo naming the unreachable dependency when it is an outage, and an ErrorInfo
    with the error's own `error_reason` when it states one."""
    details: list[Message] = []
    retry_after = getattr(exc, "retry_after_seconds", None)
    if isinstance(retry_after, int | float) and retry_after > 0:
        details.append(
            error_details_pb2.RetryInfo(
                retry_delay=duration_pb2.Duration(seconds=math.ceil(retry_after))
            )
        )
    dependency = getattr(exc, "dependency", None)
    if isinstance(dependency, str) and dependency:
        details.append(
            error_details_pb2.ErrorInfo(
                reason=DEPENDENCY_UNAVAILABLE,
                domain=ERROR_DOMAIN,
                metadata={"dependency": dependency},
            )
        )
    reason = getattr(exc, "error_reason", None)
    if isinstance(reason, str) and reason:
        details.append(error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN))
    if not details:
        return ()
    packed = []
    for detail in details:
        found = any_pb2.Any()
        found.Pack(detail)
        packed.append(found)
    status = status_pb2.Status(code=code.value[0], message=message, details=packed)
    return (("grpc-status-details-bin", status.SerializeToString()),)


def _response_class(method: str) -> type[Message]:
    service, _, name = method.lstrip("/").rpartition("/")
    found = descriptor_pool.Default().FindServiceByName(service).methods_by_name[name]
    return GetMessageClass(found.output_type)
