"""The fuzzed VEN on a live VTN: provisioned, registered, with an event, a report request and an opt.

`state()` restores whatever an accepted mutated message took away (a cancelled registration, the
report requests it retired, a cancelled opt), so every example starts from a VEN in full use.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
from lxml import etree
from sqlalchemy import select
from vtn_openadr.harness import OPENADR, FakeClock
from vtn_openadr.test_events import spec

from aggregator.events import create_event
from aggregator.vens import NewVen, provision_ven
from vtn.db import tables
from vtn.db.uow import UnitOfWork
from vtn.openadr.xml import NS

from .live import LiveVtn
from .messages import VenState, build

VEN_NAME = "fuzz-ven"


@dataclass
class Answer:
    status: int
    body: bytes
    message_type: str | None
    code: int | None

    @property
    def accepted(self) -> bool:
        return self.status == 200 and self.code in (None, 200)


@dataclass
class FuzzTarget:
    live: LiveVtn
    clock: FakeClock
    http: requests.Session = field(default_factory=requests.Session)
    ven_id: str = ""
    event_id: str = ""
    opt_ids: itertools.count = field(default_factory=itertools.count)
    opt_id: str = "fz-opt-0"
    # Valid until a message is accepted: a refused one must not change anything (that is checked).
    _state: VenState | None = None
    _snapshot: dict[str, Any] | None = None

    def setup(self) -> None:
        new = NewVen(VEN_NAME, site_id="fuzz-site")
        info = self.live.run(provision_ven(UnitOfWork(self.live.sessions), new, datetime.now(UTC)))
        self.ven_id = info.ven_id
        event = self.live.run(
            create_event(
                UnitOfWork(self.live.sessions), spec([info.ven_id], 7200), self.clock.now, self.live.cache
            )
        )
        self.event_id = event.event_id

    def post(self, service: str, body: bytes) -> Answer:
        resp = self.http.post(
            f"{self.live.url}{OPENADR}/{service}", data=body, headers={"Content-Type": "application/xml"}
        )
        message_type, code = None, None
        if resp.content:
            root = etree.fromstring(resp.content)
            signed = root.find("oadr:oadrSignedObject", NS)
            if signed is not None and len(signed):
                message_type = etree.QName(signed[0]).localname
                found = signed[0].find("ei:eiResponse/ei:responseCode", NS)
                if found is None:
                    found = signed[0].find("pyld:eiCreatedEvent/ei:eiResponse/ei:responseCode", NS)
                code = int(found.text) if found is not None and found.text else None
        return Answer(resp.status_code, resp.content, message_type, code)

    def forget(self) -> None:
        """Something may have changed: re-read the state and the snapshot next time."""
        self._state, self._snapshot = None, None

    def snapshot(self) -> dict[str, Any]:
        if self._snapshot is None:
            self._snapshot = self.live.snapshot()
        return self._snapshot

    def remember_snapshot(self, snapshot: dict[str, Any]) -> None:
        self._snapshot = snapshot

    def send_seed(self, name: str, state: VenState) -> Answer:
        answer = self.post(*build(name, state))
        assert answer.accepted, (name, answer.body.decode())
        return answer

    def state(self) -> VenState:
        """The VEN's current IDs, re-registering and re-offering reports when they are gone."""
        if self._state is None:
            self._state = self._restore()
        return self._state

    def _restore(self) -> VenState:
        self._snapshot = None
        registration_id, request_ids, live_opts = self.live.run(_read_state(self.live.sessions, self.ven_id))
        state = VenState(self.ven_id, VEN_NAME, registration_id or "", self.event_id, "", self.opt_id)
        if registration_id is None:
            self.send_seed("create_registration", VenState(self.ven_id, VEN_NAME, "", "", "", ""))
            return self._restore()
        if not request_ids:
            self.send_seed("register_report", state)
            return self._restore()
        if self.opt_id not in live_opts:
            self.opt_id = f"fz-opt-{next(self.opt_ids) + 1}"
            self.send_seed("create_opt", VenState(**{**_fields(state), "opt_id": self.opt_id}))
        return VenState(**{**_fields(state), "report_request_id": request_ids[0], "opt_id": self.opt_id})


def _fields(state: VenState) -> dict[str, Any]:
    return {name: getattr(state, name) for name in VenState.__slots__}


async def _read_state(sessions: Any, ven_id: str) -> tuple[str | None, list[str], set[str]]:
    async with sessions() as session:
        registration_id = await session.scalar(
            select(tables.Ven.registration_id).where(tables.Ven.ven_id == ven_id)
        )
        request_ids = (
            await session.scalars(
                select(tables.ReportRequest.report_request_id)
                .where(tables.ReportRequest.ven_id == ven_id, tables.ReportRequest.cancelled_at.is_(None))
                .where(tables.ReportRequest.report_specifier_id == "spec-usage")
                .order_by(tables.ReportRequest.report_request_id)
            )
        ).all()
        opts = (
            await session.scalars(
                select(tables.Opt.opt_id).where(
                    tables.Opt.ven_id == ven_id, tables.Opt.cancelled_at.is_(None)
                )
            )
        ).all()
    return registration_id, list(request_ids), set(opts)
