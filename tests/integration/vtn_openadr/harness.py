"""Conformance harness: a settable clock, raw-XML exchanges with the VTN, reply validation.

Every reply body the VTN sends during a test is recorded; at teardown each one must validate
against openleadr's OpenADR 2.0b XSD (issue 2, "Done when" item 4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lxml import etree
from openleadr.messaging import create_message

from vtn.keys import POLL_CACHE
from vtn.openadr.xml import NS, schema
from vtn.services.poll_cache import PollCache
from vtn.settings import VtnSettings

T0 = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
OPENADR = "/OpenADR2/Simple/2.0b"


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Reply:
    status: int
    body: bytes
    message_type: str | None
    element: Any

    def text(self, path: str) -> str | None:
        found = self.element.find(path, NS) if self.element is not None else None
        return None if found is None or found.text is None else found.text.strip()

    @property
    def code(self) -> int | None:
        value = self.text("ei:eiResponse/ei:responseCode")
        if value is None:
            value = self.text("pyld:eiCreatedEvent/ei:eiResponse/ei:responseCode")
        return int(value) if value is not None else None


@dataclass
class Vtn:
    client: Any
    clock: FakeClock
    sessions: Any
    settings: VtnSettings
    replies: list[bytes] = field(default_factory=list)

    @property
    def cache(self) -> PollCache:
        """The app's poll cache, for use cases a test calls directly (a PollNotifier, RecentPolls)."""
        cache: PollCache = self.client.app[POLL_CACHE]
        return cache

    async def post(self, service: str, body: bytes | str, content_type: str = "application/xml") -> Reply:
        data = body.encode() if isinstance(body, str) else body
        resp = await self.client.post(
            f"{OPENADR}/{service}", data=data, headers={"Content-Type": content_type}
        )
        raw = await resp.read()
        self.replies.append(raw)
        message_type, element = None, None
        if raw:
            root = etree.fromstring(raw)
            signed = root.find("oadr:oadrSignedObject", NS)
            if signed is not None and len(signed):
                element = signed[0]
                message_type = etree.QName(element).localname
        return Reply(resp.status, raw, message_type, element)

    async def send(self, service: str, message_type: str, **payload: Any) -> Reply:
        """Send a message built with openleadr's VEN-side templates."""
        return await self.post(service, create_message(message_type, **payload))


def assert_valid(body: bytes) -> None:
    checker = schema()
    doc = etree.fromstring(body)
    assert checker.validate(doc), f"reply is not XSD-valid: {checker.error_log.last_error}\n{body.decode()}"
