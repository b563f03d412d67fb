"""oadrCreatedEvent: a VEN's optIn/optOut per event and modificationNumber."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vtn.db.uow import UnitOfWork
from vtn.errors import InvalidInput, NotFound

Sessions = async_sessionmaker[AsyncSession]

OPT_TYPES = ("optIn", "optOut")


@dataclass(frozen=True, slots=True)
class EventAnswer:
    event_id: str
    modification_number: int
    opt_type: str
    response_code: str = "200"


async def record_event_responses(
    sessions: Sessions, ven_id: str, answers: Sequence[EventAnswer], now: datetime
) -> None:
    """Store every answer, or none: 452 (NotFound) for an event that is not the VEN's or a
    modificationNumber the event never had."""
    async with UnitOfWork(sessions) as uow:
        for answer in answers:
            if answer.opt_type not in OPT_TYPES:
                raise InvalidInput("optType", f"must be optIn or optOut, not {answer.opt_type!r}")
            event = await uow.events.get(answer.event_id)
            targets = (await uow.events.targets([answer.event_id]))[answer.event_id] if event else []
            if event is None or ven_id not in targets:
                raise NotFound("event", answer.event_id)
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
