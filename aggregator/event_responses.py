"""oadrCreatedEvent: a VEN's optIn/optOut per event and modificationNumber."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from aggregator import outbox
from aggregator.errors import InvalidInput, NotFound
from aggregator.records import EventRecord
from aggregator.uow import UnitOfWork


class OptType(StrEnum):
    OPT_IN = "optIn"
    OPT_OUT = "optOut"


@dataclass(frozen=True, slots=True)
class EventAnswer:
    """One eventResponse of an oadrCreatedEvent; `opt_type` as sent, checked on recording."""

    event_id: str
    modification_number: int
    opt_type: str
    response_code: str = "200"


async def record_event_responses(
    uow: UnitOfWork, ven_id: str, answers: Sequence[EventAnswer], now: datetime
) -> None:
    """Store every answer, or none: NotFound (OpenADR 452) for an event that is not the VEN's or
    a modificationNumber the event never had, InvalidInput for an optType that is neither."""
    async with uow:
        for answer in answers:
            if answer.opt_type not in set(OptType):
                raise InvalidInput("optType", f"must be optIn or optOut, not {answer.opt_type!r}")
            event = await uow.events.get(answer.event_id)
            if event is None:
                raise NotFound("event", answer.event_id)
            targets = (await uow.events.targets([answer.event_id]))[answer.event_id]
            if ven_id not in targets:
                await _check_told_cancelled(uow, ven_id, event, answer)
            if not 0 <= answer.modification_number <= event.modification_number:
                raise NotFound("modificationNumber", str(answer.modification_number))
            await uow.events.record_response(
                ven_id,
                answer.event_id,
                answer.modification_number,
                answer.opt_type,
                answer.response_code,
                now,
            )
        await uow.commit()


async def _check_told_cancelled(
    uow: UnitOfWork, ven_id: str, event: EventRecord, answer: EventAnswer
) -> None:
    """A VEN no longer targeted may only answer the cancellation it was delivered (else 452)."""
    told = await outbox.told_cancelled(uow, ven_id, event.event_id, event.created_at)
    if not told:
        raise NotFound("event", answer.event_id)
    if answer.modification_number not in told:
        raise NotFound("modificationNumber", str(answer.modification_number))
