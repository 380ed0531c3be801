"""Server-streaming RPCs over HTTP: NDJSON by default, Server-Sent Events on request.

Any RPC declared `returns (stream ...)` with an HttpRule is served this way; nothing is
written per route. The first message is awaited before the response starts, so an RPC
that fails at once (a bad request, a missing token) still answers with its HTTP status
and a problem document. A failure after that can only be reported inside the stream: as
a last NDJSON line `{"error": <problem>}` or an SSE `event: error` whose data is the
problem, after which the stream ends.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import grpc
from google.protobuf.message import Message
from starlette.responses import StreamingResponse

from portico_gateway import problems
from portico_gateway.errors import UpstreamError
from portico_gateway.routes import RouteMatch
from portico_gateway.transcode import render_response

logger = logging.getLogger(__name__)

NDJSON_MEDIA_TYPE = "application/x-ndjson"
SSE_MEDIA_TYPE = "text/event-stream"


def wants_sse(accept: str | None) -> bool:
    """Whether the Accept header prefers SSE over NDJSON (NDJSON when it names neither)."""
    for item in (accept or "").split(","):
        media_type = item.split(";", 1)[0].strip().lower()
        if media_type == SSE_MEDIA_TYPE:
            return True
        if media_type in {NDJSON_MEDIA_TYPE, "application/json"}:
            return False
    return False


def encode(record: Any, *, sse: bool, event: str = "message") -> bytes:
    """One record of the stream in its wire format."""
    text = json.dumps(record, separators=(",", ":"))
    if sse:
        # json.dumps escapes newlines inside strings, so the data is one line.
        return f"event: {event}\ndata: {text}\n\n".encode()
    return f'{{"error":{text}}}\n'.encode() if event == "error" else f"{text}\n".encode()


async def stream_response(
    matched: RouteMatch, messages: AsyncGenerator[Message, None], *, sse: bool, instance: str
) -> StreamingResponse:
    """The HTTP response for a server stream; raises UpstreamError if it fails at once."""
    try:
        first = await anext(messages)
    except StopAsyncIteration:
        first = None

    async def body() -> AsyncIterator[bytes]:
        try:
            if first is None:
                return
            yield encode(render_response(matched, first), sse=sse)
            async for message in messages:
                yield encode(render_response(matched, message), sse=sse)
        except UpstreamError as exc:
            problem = problems.from_rpc_error(exc.error, instance, exc.service)
            yield encode(json.loads(bytes(problem.body)), sse=sse, event="error")
        except Exception:
            logger.exception("stream of %s failed", matched.route.grpc_method)
            problem = problems.problem(
                500,
                "internal-error",
                "Internal error",
                "the gateway failed while streaming; its log has the cause",
                instance=instance,
                grpc_code=grpc.StatusCode.INTERNAL,
            )
            yield encode(json.loads(bytes(problem.body)), sse=sse, event="error")
        finally:
            await messages.aclose()

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    media_type = SSE_MEDIA_TYPE if sse else NDJSON_MEDIA_TYPE
    return StreamingResponse(body(), media_type=media_type, headers=headers)
