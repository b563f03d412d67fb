"""What an OpenADR handler gets: settings, sessions, the poll cache, the clock and the message."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from aggregator.ports import ReportSink
from vtn.db.uow import Sessions
from vtn.openadr.xml import text
from vtn.services.poll_cache import PollCache
from vtn.settings import VtnSettings

WrittenCallback = Callable[[datetime], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Context:
    settings: VtnSettings
    sessions: Sessions
    cache: PollCache
    now: datetime
    message: etree._Element
    ven_id: str | None  # the venID the message names (see message_ven_id)
    tls_fingerprint: str | None = None
    # Where report values go in group commits (vtn/services/report_writer.py); None: straight in.
    report_sink: ReportSink | None = None
    # Called with the time once the reply is written out whole (dispatch, vtn/openadr/acks.py).
    after_written: list[WrittenCallback] = field(default_factory=list)

    @property
    def request_id(self) -> str | None:
        return text(self.message, "pyld:requestID") or text(self.message, ".//pyld:requestID")


def message_ven_id(message: etree._Element) -> str | None:
    """The venID a VEN message names: a direct child, or inside eiCreatedEvent / eiRequestEvent."""
    return (
        text(message, "ei:venID")
        or text(message, "pyld:eiCreatedEvent/ei:venID")
        or text(message, "pyld:eiRequestEvent/ei:venID")
    )


# A handler returns the reply document; it raises vtn.errors.VtnError for an OpenADR error reply.
Handler = Callable[[Context], Awaitable[str | bytes]]
