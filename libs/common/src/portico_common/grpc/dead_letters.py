"""The DeadLetterService every service serves for its own consumers' dead letters."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format

from portico.ops.v1 import dead_letters_pb2 as pb
from portico.ops.v1 import dead_letters_pb2_grpc as pb_grpc
from portico_common.errors import EventError, InvalidArgumentError
from portico_common.events.dead_letters import DeadLetterAction, DeadLetterQueue, DeadLetterRecord
from portico_common.events.envelope import Envelope
from portico_common.grpc.registration import Servicer
from portico_common.grpc.tokens import current_claims
from portico_common.timestamps import optional_timestamp, to_timestamp

MAX_PAGE = 500
MAX_BATCH = 1000
DEFAULT_PAGE = 100


def message_of(record: DeadLetterRecord) -> pb.DeadLetter:
    return pb.DeadLetter(
        sequence=record.sequence,
        consumer=record.consumer,
        kind=record.kind,
        event_type=record.event_type,
        event_id=record.event_id,
        event_tenant=record.event_tenant,
        reason=record.reason,
        deliveries=record.deliveries,
        original_subject=record.original_subject,
        dead_lettered_at=optional_timestamp(record.dead_lettered_at),
    )


def action_of(action: DeadLetterAction) -> pb.DeadLetterAction:
    return pb.DeadLetterAction(
        id=action.id,
        action=action.action,
        consumer=action.consumer,
        sequence=action.sequence,
        event_type=action.event_type,
        event_id=action.event_id,
        event_tenant=action.event_tenant,
        actor=action.actor,
        reason=action.reason,
        outcome=action.outcome,
        acted_at=to_timestamp(action.acted_at),
    )


def _page(size: int, token: str) -> tuple[int, int]:
    """(page size, the last id or sequence already shown) from a request's paging fields."""
    if size > MAX_PAGE:
        raise InvalidArgumentError(f"page_size must be 1..{MAX_PAGE}")
    try:
        after = int(token or "0")
    except ValueError:
        raise InvalidArgumentError("page_token is not one this API returned") from None
    if after < 0:
        raise InvalidArgumentError("page_token is not one this API returned")
    return size or DEFAULT_PAGE, after


def _actor() -> str:
    claims = current_claims.get()
    # Without token checks (tests, PORTICO_UNSAFE_NO_AUTH) nobody is known.
    return claims.subject if claims is not None else "unauthenticated"


def _payload_json(record: DeadLetterRecord) -> str:
    try:
        envelope = Envelope.decode(record.headers, record.payload)
    except EventError:
        return ""
    return json_format.MessageToJson(envelope.payload, indent=None)


class DeadLetterServicer(pb_grpc.DeadLetterServiceServicer):
    """Maps the API onto the service's DeadLetterQueue."""

    def __init__(self, queue: DeadLetterQueue) -> None:
        self._queue = queue

    def _check_service(self, service: str) -> None:
        if service and service != self._queue.service:
            raise InvalidArgumentError(
                f"this is {self._queue.service}'s dead-letter API, not {service}'s"
            )

    async def ListDeadLetters(  # noqa: N802 - generated servicer name
        self, request: pb.ListDeadLettersRequest, _context: Any
    ) -> pb.ListDeadLettersResponse:
        self._check_service(request.service)
        size, after = _page(request.page_size, request.page_token)
        records = await self._queue.list_letters(
            request.consumer, request.event_type, after, size + 1
        )
        page = records[:size]
        more = len(records) > size
        return pb.ListDeadLettersResponse(
            dead_letters=[message_of(r) for r in page],
            next_page_token=str(page[-1].sequence) if more and page else "",
        )

    async def GetDeadLetter(  # noqa: N802 - generated servicer name
        self, request: pb.GetDeadLetterRequest, _context: Any
    ) -> pb.GetDeadLetterResponse:
        self._check_service(request.service)
        record = await self._queue.get(request.sequence)
        return pb.GetDeadLetterResponse(
            dead_letter=message_of(record),
            headers=record.headers,
            payload=record.payload,
            payload_json=_payload_json(record),
        )

    async def RedriveDeadLetter(  # noqa: N802 - generated servicer name
        self, request: pb.RedriveDeadLetterRequest, _context: Any
    ) -> pb.RedriveDeadLetterResponse:
        self._check_service(request.service)
        outcome = await self._queue.redrive(request.sequence, _actor(), request.reason)
        return pb.RedriveDeadLetterResponse(outcome=outcome)

    async def RedriveDeadLetters(  # noqa: N802 - generated servicer name
        self, request: pb.RedriveDeadLettersRequest, _context: Any
    ) -> pb.RedriveDeadLettersResponse:
        self._check_service(request.service)
        limit = request.limit or DEFAULT_PAGE
        if limit > MAX_BATCH:
            raise InvalidArgumentError(f"limit must be 1..{MAX_BATCH}")
        redriven, failures = await self._queue.redrive_many(
            _actor(), request.reason, request.consumer, request.event_type, limit
        )
        return pb.RedriveDeadLettersResponse(
            redriven=redriven,
            failures=[pb.RedriveFailure(sequence=f.sequence, error=f.error) for f in failures],
        )

    async def DiscardDeadLetter(  # noqa: N802 - generated servicer name
        self, request: pb.DiscardDeadLetterRequest, _context: Any
    ) -> pb.DiscardDeadLetterResponse:
        self._check_service(request.service)
        if not request.reason.strip():
            raise InvalidArgumentError("a discard needs a reason: its effect will never happen")
        await self._queue.discard(request.sequence, _actor(), request.reason)
        return pb.DiscardDeadLetterResponse()

    async def ListDeadLetterActions(  # noqa: N802 - generated servicer name
        self, request: pb.ListDeadLetterActionsRequest, _context: Any
    ) -> pb.ListDeadLetterActionsResponse:
        self._check_service(request.service)
        size, after = _page(request.page_size, request.page_token)
        found = await self._queue.actions(
            consumer=request.consumer,
            action=request.action,
            event_type=request.event_type,
            event_id=request.event_id,
            after=after,
            limit=size + 1,
        )
        page = found[:size]
        more = len(found) > size
        return pb.ListDeadLetterActionsResponse(
            actions=[action_of(a) for a in page],
            next_page_token=str(page[-1].id) if more and page else "",
        )


def dead_letter_servicer(queue: DeadLetterQueue) -> Servicer:
    return Servicer(
        pb.DESCRIPTOR.services_by_name["DeadLetterService"],
        pb_grpc.add_DeadLetterServiceServicer_to_server,
        DeadLetterServicer(queue),
    )
