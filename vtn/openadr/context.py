"""What an OpenADR handler gets: settings, sessions, the poll cache, the clock and the message."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from lxml import etree
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vtn.openadr.xml import text
from vtn.services.poll_cache import PollCache
from vtn.settings import VtnSettings


@dataclass(frozen=True, slots=True)
class Context:
    settings: VtnSettings
    sessions: async_sessionmaker[AsyncSession]
    cache: PollCache
    now: datetime
    message: etree._Element
    tls_fingerprint: str | None = None

    @property
    def request_id(self) -> str | None:
        return text(self.message, "pyld:requestID") or text(self.message, ".//pyld:requestID")

    @property
    def ven_id(self) -> str | None:
        m = self.message
        return (
            text(m, "ei:venID")
            or text(m, "pyld:eiCreatedEvent/ei:venID")
            or text(m, "pyld:eiRequestEvent/ei:venID")
        )


# A handler returns the reply document; it raises vtn.errors.VtnError for an OpenADR error reply.
Handler = Callable[[Context], Awaitable[str | bytes]]
