"""The OpenADR 2.0b side of the agent: an OpenADR 2.0b VEN client of our own.

It used to subclass `openleadr.OpenADRClient` and override its private `_perform_request` and
`_create_message`; it now sends every message through ven/agent/transport.py (our session,
signing and errors) and keeps openleadr for what it offers publicly: the message templates and
parser (`openleadr.messaging`), `objects`, `enums` and `utils`. Every OpenADRClient method that
talks to the VTN calls those private methods, so subclassing would have meant overriding them;
what the agent used of them (registration, report registration and requests, the poll dispatch)
is here, as openleadr did it unless said below.

What differs from openleadr's client, and why:
- `run()` retries registration with exponential back-off instead of giving up when the VTN
  is unreachable at start-up (a gateway boots before the network is up).
- `send` tells "VTN unreachable" apart (the `reachable` flag) and always returns a (type,
  payload) pair, (None, {}) when there is no usable answer, with one warning saying why.
- `update_report` builds our three reports itself: TELEMETRY_USAGE from the on-disk buffer
  (oldest first, marked sent only when the VTN answers oadrUpdatedReport 200, so an outage
  is backfilled without gap or duplicate), TELEMETRY_STATUS and the x-SITE_FLEXIBILITY report
  from the agent's current view. openleadr's queue worker dropped a report whose send failed.
- Events go to the agent core (one DrEvent per signal); the opt answer is the core's rule.
- A message the VTN sends again (it delivers at least once: again on a later poll until we
  answer it) is answered again without being applied again: `_on_event` answers a repeated
  modificationNumber as before (openleadr's raised KeyError on a repeated cancellation and then
  answered optOut to every event of the message) and ignores an older one (openleadr applied
  it, rolling the event back); `create_report` keeps one request and reporting job per report,
  the latest (openleadr added a second); `cancel_report` answers a request already cancelled
  (openleadr said nothing).
- `offer_and_register` offers the reports one offer at a time: two overlapping offers left the
  agent answering both offers' requests.
- A failed re-registration (oadrRequestReregistration) leaves the agent polling; openleadr's
  client stopped for good.
- Each report request keeps its own r_ids (openleadr's shared one list among all the requests
  of an oadrCreateReport; our reports filter by kind, so what is sent does not change), and
  `cancel_report` sends without openleadr's 1 s wait for its report queue (we send at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from openleadr import enums, objects, utils

from flexmodel.flexreport import REPORT_NAME as FLEX_REPORT_NAME
from flexmodel.flexreport import availability_windows
from ven.agent.buffer import TelemetryBuffer
from ven.agent.core import AgentCore
from ven.agent.events import OptType
from ven.agent.openadr_mapping import (
    FLEX_SPECIFIER,
    STATUS_SPECIFIER,
    USAGE_SPECIFIER,
    EventUnreadable,
    event_from_openleadr,
    flex_point_templates,
    flex_points,
    status_values,
    usage_points,
)
from ven.agent.site_entry import Grid
from ven.agent.transport import BadSignature, InvalidXml, TlsFiles, VtnHttpError, VtnTransport, VtnUnreachable
from ven.clock import to_datetime

log = logging.getLogger(__name__)

RETRY_MIN_S = 1.0
# What an oadrCreatePartyRegistration of ours offers: 2.0b over simpleHttp, pull, unsigned XML
# (TLS and signatures are configured apart); the bench's simulated VENs send the same.
PULL_REGISTRATION: dict[str, Any] = {
    "http_pull_model": True,
    "xml_signature": False,
    "report_only": False,
    "profile_name": "2.0b",
    "transport_name": "simpleHttp",
    "transport_address": None,
}
DEFAULT_POLL = timedelta(seconds=10)  # when the VTN sends no oadrRequestedOadrPollFreq
SAMPLING = objects.SamplingRate(
    min_period=timedelta(seconds=1), max_period=timedelta(hours=1), on_change=False
)
REPORT_DURATION = timedelta(hours=1)


class VenClient:
    def __init__(
        self,
        core: AgentCore,
        buffer: TelemetryBuffer,
        ven_name: str,
        vtn_url: str,
        retry_max_s: float = 60.0,
        batch: int = 500,
        validate_outgoing: bool = False,
        tls: tuple[str, str, str] | None = None,
        sign: bool = False,
        vtn_fingerprint: str | None = None,
    ) -> None:
        # tls = (client certificate, its key, CA of the VTN): mutual TLS with the VTN. With `sign`,
        # every message is also signed with that key (XML signature, oadrsign). With
        # `vtn_fingerprint`, a reply not signed by the VTN's certificate is dropped.
        self.transport = VtnTransport(
            vtn_url,
            tls=TlsFiles(*(Path(f) for f in tls)) if tls is not None else None,
            sign=sign,
            vtn_fingerprint=vtn_fingerprint,
            validate_outgoing=validate_outgoing,
        )
        self.vtn_url = self.transport.vtn_url
        self.ven_name = ven_name
        self.ven_id: str | None = None
        self.registration_id: str | None = None
        self.poll_frequency: timedelta | None = None
        self.core = core
        self.buffer = buffer
        self.retry_max_s = retry_max_s
        self.batch = batch
        self.reachable = False
        self.registered = asyncio.Event()
        self.reports: list[objects.Report] = []  # what we offer (oadrRegisterReport)
        self.report_requests: list[dict[str, Any]] = []  # what the VTN asked for, with its job
        self.opts: list[objects.Opt] = []
        self.scheduler = AsyncIOScheduler()  # the poll and the reporting jobs
        self._stopping = False
        # eventID -> (modificationNumber applied, our answer to it): a repeat is not applied again
        self._applied: dict[str, tuple[int, str]] = {}
        # One offer at a time (offer_and_register): run()'s and housekeeping's overlapped
        self._offering = asyncio.Lock()
        self._sending = asyncio.Lock()  # one send of the telemetry buffer at a time (send_buffered)

    @property
    def invalid_outgoing(self) -> int:
        """Our own messages that failed the OpenADR 2.0b XSD (with validate_outgoing)."""
        return self.transport.invalid_outgoing

    # --- transport ----------------------------------------------------------------------------
    async def send(
        self, service: str, message_type: str, **payload: Any
    ) -> tuple[str | None, dict[str, Any]]:
        """One exchange with the VTN: the reply's type and payload, or (None, {}) when there is
        no usable reply (logged once here, by what went wrong)."""
        if self._stopping:  # a scheduled job still running while the agent shuts down
            return None, {}
        try:
            reply = await self.transport.exchange(service, message_type, **payload)
        except VtnUnreachable as exc:
            if self.reachable:
                log.warning("VTN %s unreachable: %s", self.vtn_url, exc)
            self.reachable = False
            return None, {}
        except VtnHttpError as exc:
            self._reached()
            log.warning("VTN answered HTTP %d to %s: %s", exc.status, service, exc.body)
            return None, {}
        except InvalidXml as exc:
            self._reached()
            log.warning("VTN's answer to %s failed validation (not OpenADR 2.0b XML): %s", service, exc)
            return None, {}
        except BadSignature as exc:
            self._reached()
            log.warning("VTN's answer to %s failed validation (signature): %s", service, exc)
            return None, {}
        except asyncio.CancelledError:
            if self._stopping:  # stop() cancels the scheduler's jobs: a report in flight is dropped
                return None, {}  # (the buffer keeps it), not logged as a failed job
            raise
        self._reached()
        return reply

    def _reached(self) -> None:
        if not self.reachable:
            log.info("VTN %s reachable", self.vtn_url)
        self.reachable = True

    # --- lifecycle ----------------------------------------------------------------------------
    async def run(self) -> None:
        await self._register_with_retry()
        await self.offer_and_register()
        await self.sync_events()
        await self._poll()
        # the VTN's oadrRequestedOadrPollFreq (10 s if it sent none), never above a day
        seconds = self.poll_frequency.total_seconds() if self.poll_frequency else 10.0
        self.scheduler.add_job(self._poll, trigger="interval", seconds=min(seconds, 86400.0))
        self.scheduler.start()

    async def _register_with_retry(self) -> None:
        delay = RETRY_MIN_S
        while True:
            _, payload = await self.query_registration()
            request_id = (payload.get("response") or {}).get("request_id") if payload else None
            if payload:
                await self.create_party_registration(ven_id=self.ven_id, request_id=request_id)
            if self.registration_id:
                log.info("registered at %s as ven_id %s", self.vtn_url, self.ven_id)
                self.registered.set()
                return
            log.warning("registration at %s failed; retrying in %.0f s", self.vtn_url, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_max_s)

    async def stop(self) -> None:
        self._stopping = True
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.transport.close()

    # --- registration (EiRegisterParty) -------------------------------------------------------
    async def query_registration(self) -> tuple[str | None, dict[str, Any]]:
        return await self.send("EiRegisterParty", "oadrQueryRegistration", request_id=utils.generate_id())

    async def create_party_registration(
        self, ven_id: str | None = None, request_id: str | None = None, registration_id: str | None = None
    ) -> None:
        """oadrCreatePartyRegistration (pull model, 2.0b, simpleHttp); keeps the VTN's venID,
        registrationID and poll frequency, or no registrationID when it refused."""
        reply_type, reply = await self.send(
            "EiRegisterParty",
            "oadrCreatePartyRegistration",
            request_id=request_id or utils.generate_id(),
            ven_name=self.ven_name,
            ven_id=ven_id,
            registration_id=registration_id,
            **PULL_REGISTRATION,
        )
        if reply_type is None:
            return
        response = reply.get("response") or {}
        if response.get("response_code") != 200:
            log.error(
                "the VTN refused our registration: %s %s",
                response.get("response_code"),
                response.get("response_description"),
            )
            return
        self.registration_id = reply.get("registration_id") or None
        if self.registration_id is None:
            log.error("no registrationID in the VTN's oadrCreatedPartyRegistration: not registered")
        if reply.get("ven_id"):
            if self.ven_id and reply["ven_id"] != self.ven_id:
                log.warning(
                    "the VTN assigned venID %s, not %s: using the VTN's", reply["ven_id"], self.ven_id
                )
            self.ven_id = reply["ven_id"]
        else:
            log.error("no venID in the VTN's oadrCreatedPartyRegistration")
        if self.registration_id:
            self.poll_frequency = reply.get("requested_oadr_poll_freq", DEFAULT_POLL)

    async def _reregister(self) -> None:
        """The VTN asked for it (oadrRequestReregistration): register again, offer the reports
        again, fetch the events again."""
        await self.send_response("EiRegisterParty")
        await self.create_party_registration(ven_id=self.ven_id, registration_id=self.registration_id)
        if not self.registration_id:
            log.warning("re-registration at %s failed; polling on", self.vtn_url)
            return
        async with self._offering:  # not beside housekeeping's offer (offer_and_register)
            await self.register_reports(self.reports)
        await self.sync_events()

    async def _on_cancel_party_registration(self, message: dict[str, Any]) -> None:
        """The VTN ends our registration: answer, stop reporting and polling (as openleadr did)."""
        if self.registration_id is None or "registration_id" not in message:
            return
        ours = message["registration_id"] == self.registration_id
        await self.send(
            "EiRegisterParty",
            "oadrCanceledPartyRegistration",
            response={
                "response_code": 200 if ours else 452,
                "response_description": "OK" if ours else "ERROR",
                "request_id": message.get("request_id"),
            },
            ven_id=self.ven_id,
            registration_id=self.registration_id,
        )
        if not ours:
            log.info("a cancellation of registration %s is not ours", message["registration_id"])
            return
        log.warning("the VTN cancelled our registration %s", self.registration_id)
        self.scheduler.remove_all_jobs()
        self.report_requests.clear()
        self.registration_id = None
        self.registered.clear()

    async def send_response(self, service: str, request_id: str | None = None) -> None:
        """An empty oadrResponse 200 (e.g. to oadrRequestReregistration)."""
        response = {"response_code": 200, "response_description": "OK", "request_id": request_id}
        await self.send(service, "oadrResponse", ven_id=self.ven_id, response=response)

    # --- polling (OadrPoll) -------------------------------------------------------------------
    async def poll(self) -> tuple[str | None, dict[str, Any]]:
        return await self.send("OadrPoll", "oadrPoll", ven_id=self.ven_id)

    async def _poll(self) -> None:
        """One oadrPoll, and what the VTN sent handled."""
        message_type, payload = await self.poll()
        if message_type is None or message_type == "oadrResponse":
            return
        if message_type == "oadrDistributeEvent":
            if payload.get("events"):
                await self._on_event(payload)
        elif message_type == "oadrCreateReport":
            if "report_requests" in payload:
                await self.create_report(payload)
        elif message_type == "oadrCancelReport":
            await self.cancel_report(payload)
        elif message_type == "oadrRequestReregistration":
            await self._reregister()
        elif message_type == "oadrCancelPartyRegistration":
            await self._on_cancel_party_registration(payload)
        elif message_type == "oadrRegisterReport":  # reports towards the VEN: none wanted
            response = {
                "response_code": 200,
                "response_description": "OK",
                "request_id": payload.get("request_id"),
            }
            await self.send(
                "EiReport", "oadrRegisteredReport", report_requests=[], ven_id=self.ven_id, response=response
            )
        else:
            log.warning("no handler for the VTN's %s; ignored", message_type)

    # --- events (EiEvent) ---------------------------------------------------------------------
    async def sync_events(self) -> None:
        """oadrRequestEvent: the VTN's current events (at start and after re-registration)."""
        _, payload = await self.send(
            "EiEvent",
            "oadrRequestEvent",
            request_id=utils.generate_id(),
            ven_id=self.ven_id,
            reply_limit=None,
        )
        if payload.get("events"):
            await self._on_event(payload)

    # --- reports ------------------------------------------------------------------------------
    def offer_reports(self) -> None:
        """METADATA for the devices discovered so far (call again after new devices appear).

        The VTN retires its requests for an earlier offer, so their jobs are dropped here.
        """
        for request in self.report_requests:
            _remove_job(request)
        self.report_requests.clear()
        self.reports.clear()
        snapshot = self.core.snapshot()
        for r_id, resource, report_type, measurement in usage_points(snapshot):
            self._offer(
                USAGE_SPECIFIER,
                enums.REPORT_NAME.TELEMETRY_USAGE,
                r_id,
                resource,
                report_type,
                enums.READING_TYPE.DIRECT_READ,
                _measurement(measurement),
            )
        for r_id, (resource, _) in status_values(snapshot, self.core.agent_status()).items():
            self._offer(
                STATUS_SPECIFIER,
                enums.REPORT_NAME.TELEMETRY_STATUS,
                r_id,
                resource,
                "x-resourceStatus",
                "x-notApplicable",
                None,
            )
        for point in flex_point_templates(snapshot):
            self._offer(
                FLEX_SPECIFIER,
                FLEX_REPORT_NAME,
                point.r_id,
                point.resource_id,
                point.report_type,
                point.reading_type,
                _measurement(point.unit, point.unit),
            )

    def _offer(
        self,
        specifier: str,
        name: str,
        r_id: str,
        resource_id: str,
        report_type: str,
        reading_type: str,
        measurement: objects.Measurement | None,
    ) -> None:
        """One data point of a METADATA report, as openleadr's `add_report` described it."""
        report = utils.find_by(self.reports, "report_name", name, "report_specifier_id", specifier)
        if report is None:
            report = objects.Report(
                created_date_time=datetime.now(),
                report_name=name,
                report_specifier_id=specifier,
                data_collection_mode="incremental",
                duration=REPORT_DURATION,
                dtstart=datetime.now(UTC),
            )
            self.reports.append(report)
        target = objects.Target(resource_id=resource_id)
        report.report_descriptions.append(
            objects.ReportDescription(
                r_id=r_id,
                reading_type=reading_type,
                report_data_source=target,
                report_subject=target,
                report_type=report_type,
                sampling_rate=SAMPLING,
                measurement=measurement,
                market_context=None,
            )
        )

    async def offer_and_register(self) -> None:
        """Offer the reports of the devices discovered so far and take the VTN's requests for them,
        one offer at a time. run() offers once registered and housekeeping again when it finds a
        device not offered yet (a protocol device connecting just after the meter): overlapping,
        both cleared the requests before either answer came, and then kept both answers' requests,
        though the VTN had cancelled the first (it retires them on a new offer). Every meter
        sample then went out twice, stored under two TELEMETRY_USAGE requests."""
        async with self._offering:
            self.offer_reports()
            await self.register_reports(self.reports)

    async def register_reports(self, reports: list[objects.Report]) -> None:
        """oadrRegisterReport (our METADATA); the VTN may answer with its report requests."""
        for report in reports:
            report.created_date_time = datetime.now()
            utils.setmember(report, "report_request_id", 0)
        _, reply = await self.send(
            "EiReport",
            "oadrRegisterReport",
            request_id=utils.generate_id(),
            ven_id=self.ven_id,
            reports=reports,
            report_request_id=0,
        )
        if "report_requests" in reply:
            await self.create_report(reply)

    async def create_report(self, response_payload: dict[str, Any]) -> None:
        """The VTN's report requests (oadrCreateReport, or in its oadrRegisteredReport): a
        reporting job each, answered with oadrCreatedReport. One request, and one job, per report
        (reportSpecifierID): the VTN sends an oadrCreateReport again until our answer reaches it
        (openleadr added a job, so sent every report twice, for each copy), and it keeps one live
        request per report, retiring the earlier ones when it makes a new one, so the latest
        request for a report replaces an earlier one."""
        response_code = 200
        for request in response_payload["report_requests"]:
            specifier = request["report_specifier"]
            first_r_id = specifier["specifier_payloads"][0]["r_id"]
            if "INVALID" in specifier["report_specifier_id"] or (
                isinstance(first_r_id, str) and "INVALID" in first_r_id
            ):
                log.error("the VTN requested an invalid report; answering with an error")
                response_code = enums.STATUS_CODES.INVALID_ID
                continue
            await self._add_report_request(request)
        self._keep_latest_per_report()
        request_id = response_payload.get("request_id") or (response_payload.get("response") or {}).get(
            "request_id"
        )
        pending = [
            {"report_request_id": utils.getmember(r, "report_request_id")}
            for r in response_payload["report_requests"]
        ]
        await self.send(
            "EiReport",
            "oadrCreatedReport",
            response={
                "response_code": response_code,
                "response_description": "OK" if response_code == 200 else "ERROR",
                "request_id": request_id,
            },
            ven_id=self.ven_id,
            pending_reports=pending,
        )

    def _keep_latest_per_report(self) -> None:
        """The latest request per reportSpecifierID; an earlier one's job is removed."""
        latest: dict[str, dict[str, Any]] = {}
        for request in self.report_requests:  # in arrival order
            earlier = latest.get(request["report_specifier_id"])
            if earlier is not None and earlier.get("job") is not None:
                with contextlib.suppress(Exception):  # a job that already ended
                    earlier["job"].remove()
            latest[request["report_specifier_id"]] = request
        self.report_requests[:] = list(latest.values())

    async def _add_report_request(self, request: dict[str, Any]) -> None:
        """One oadrReportRequest: the r_ids we offered, its granularity, its job (as openleadr's)."""
        specifier = request["report_specifier"]
        request_id = request["report_request_id"]
        specifier_id = specifier["report_specifier_id"]
        back = specifier.get("report_back_duration")
        granularity = specifier["granularity"]
        known = utils.find_by(self.report_requests, "report_request_id", request_id) is not None
        entry: dict[str, Any] = {
            "report_request_id": request_id,
            "report_specifier_id": specifier_id,
            "report_back_duration": back,
            "r_ids": [],
            "granularity": granularity,
            "job": None,
        }
        report = utils.find_by(self.reports, "report_specifier_id", specifier_id)
        if report is None:
            log.error("the VTN requested report %s, which we did not offer", specifier_id)
            if not known:
                self.report_requests.append(entry)
            return
        entry["r_ids"], granularity, single = _requested(report, specifier["specifier_payloads"], granularity)
        entry["granularity"] = granularity
        if not single and back is not None and back.total_seconds() > 0:
            if not known:  # a copy the VTN sent again keeps the first copy's job
                entry["job"] = self.scheduler.add_job(
                    func=partial(self.update_report, report_request_id=request_id),
                    trigger="cron",
                    **utils.cron_config(granularity or back),
                )
                self.report_requests.append(entry)
            return
        if not known:
            self.report_requests.append(entry)
        if "report_interval" in specifier:
            self.scheduler.add_job(
                partial(self.update_report, request_id),
                "date",
                run_date=specifier["report_interval"]["dtstart"],
            )
        else:
            await self.update_report(request_id)

    async def cancel_report(self, payload: dict[str, Any]) -> None:
        """oadrCancelReport: one last report, the job dropped, answered oadrCanceledReport. A
        request already cancelled is answered too: the VTN sends the oadrCancelReport again until
        our oadrCanceledReport reaches it (openleadr said nothing)."""
        request_id = payload["report_request_id"]
        response = {"response_code": 200, "response_description": "OK", "request_id": payload["request_id"]}
        request = utils.find_by(self.report_requests, "report_request_id", request_id)
        if request is None:
            await self.send(
                "EiReport", "oadrCanceledReport", response=response, pending_reports=[], ven_id=self.ven_id
            )
            return
        if request["r_ids"]:
            await self.update_report(request_id)  # what is left, before the job goes
        _remove_job(request)
        follow: dict[str, Any] = {}
        if payload.get("report_to_follow"):
            follow["pending_reports"] = [{"report_request_id": request_id}]
            await self.update_report(request_id)
        self.report_requests.remove(request)
        await self.send(
            "EiReport",
            "oadrCanceledReport",
            response=response,
            ven_id=self.ven_id,
            report_request_id=request_id,
            **follow,
        )

    async def update_report(self, report_request_id: str) -> None:
        request = utils.find_by(self.report_requests, "report_request_id", report_request_id)
        if request is None:
            log.warning("no report request %s", report_request_id)
            return
        specifier = request["report_specifier_id"]
        r_ids = set(request["r_ids"])
        if specifier == USAGE_SPECIFIER:
            await self.send_buffered(report_request_id, r_ids)
        elif specifier == STATUS_SPECIFIER:
            now = to_datetime(self.core.clock.now())
            values = [
                (r, now, None, v)
                for r, (_, v) in status_values(self.core.snapshot(), self.core.agent_status()).items()
                if r in r_ids
            ]
            await self._send_report(report_request_id, specifier, enums.REPORT_NAME.TELEMETRY_STATUS, values)
        elif specifier == FLEX_SPECIFIER:
            await self.send_flexibility(report_request_id, r_ids)

    async def send_buffered(self, report_request_id: str, r_ids: set[str]) -> int:
        """Send the buffer's unsent samples of `r_ids`, oldest first; stop at the first failure,
        or once the request is no longer ours (a newer one replaced it: the VTN cancelled it).

        One send at a time: two (two report jobs, or one still sending when a newer request
        came) read the same unsent samples before either marked them sent, and each sample
        went out twice."""
        async with self._sending:
            return await self._send_buffered(report_request_id, r_ids)

    async def _send_buffered(self, report_request_id: str, r_ids: set[str]) -> int:
        sent = 0
        while utils.find_by(self.report_requests, "report_request_id", report_request_id) is not None:
            samples = [s for s in self.buffer.pending(self.batch, r_ids=r_ids)]
            if not samples:
                return sent
            values = [(s.r_id, to_datetime(s.ts), None, s.value) for s in samples]
            if not await self._send_report(
                report_request_id, USAGE_SPECIFIER, enums.REPORT_NAME.TELEMETRY_USAGE, values
            ):
                return sent
            self.buffer.mark_sent(samples)
            sent += len(samples)
        return sent

    async def send_flexibility(self, report_request_id: str, r_ids: set[str] | None = None) -> bool:
        grid = Grid.at(self.core.clock.now())
        entry = self.core.site_entry(grid)
        values = [
            (p.r_id, i.start, i.duration, i.value)
            for p in flex_points(entry, grid.start, grid.resolution)
            if r_ids is None or p.r_id in r_ids
            for i in p.intervals
        ]
        return await self._send_report(report_request_id, FLEX_SPECIFIER, FLEX_REPORT_NAME, values)

    async def send_flexibility_now(self) -> bool:
        """The flexibility report outside its schedule, for every live request of it.

        Sent when a car arrives or leaves: the VTN re-plans on the new snapshot, and waiting for
        the next scheduled report would leave the car on the local policy (or the capped zeros)
        for up to a reporting interval. False when no request is live or a send failed."""
        requests = [r for r in self.report_requests if r.get("report_specifier_id") == FLEX_SPECIFIER]
        sent = [await self.send_flexibility(r["report_request_id"], set(r["r_ids"])) for r in requests]
        return bool(sent) and all(sent)

    async def send_status_now(self) -> None:
        """The status report outside its schedule, for every live request of it: sent when the
        peak guard starts shedding, so the VTN hears of it within the quarter."""
        for request in [r for r in self.report_requests if r.get("report_specifier_id") == STATUS_SPECIFIER]:
            await self.update_report(request["report_request_id"])

    async def _send_report(
        self,
        report_request_id: str,
        specifier: str,
        name: str,
        values: Sequence[tuple[str, datetime, timedelta | None, float]],
    ) -> bool:
        if not values:
            return True
        intervals = [
            objects.ReportInterval(
                dtstart=start, duration=duration, report_payload=objects.ReportPayload(r_id=r_id, value=value)
            )
            for r_id, start, duration, value in values
        ]
        report = objects.Report(
            report_request_id=report_request_id,
            report_specifier_id=specifier,
            report_name=name,
            intervals=intervals,
            dtstart=min(i.dtstart for i in intervals),
            created_date_time=datetime.now(UTC),
        )
        reply_type, reply = await self.send(
            "EiReport",
            "oadrUpdateReport",
            ven_id=self.ven_id,
            request_id=utils.generate_id(),
            reports=[report],
        )
        code = (reply.get("response") or {}).get("response_code") if reply else None
        ok = reply_type == "oadrUpdatedReport" and str(code) == "200"
        if ok and "cancel_report" in reply:
            await self.cancel_report(reply["cancel_report"])
        return ok

    # --- events and opts ----------------------------------------------------------------------
    async def _on_event(self, message: dict[str, Any]) -> None:
        """An oadrDistributeEvent (or the oadrRequestEvent answer): apply what is new, answer all.

        Unlike openleadr's: the VTN sends a distribute again until we answer it, so a
        modificationNumber already applied is answered as before and not applied again, and
        one older than the applied one (a stale copy) is neither applied nor answered.
        """
        events = message.get("events") or []
        answers = []
        for event in events:
            descriptor = event["event_descriptor"]
            event_id, number = str(descriptor["event_id"]), int(descriptor.get("modification_number") or 0)
            applied = self._applied.get(event_id)
            if applied is not None and number < applied[0]:
                log.info("ignoring modification %d of event %s: %d is applied", number, event_id, applied[0])
                continue
            if applied is not None and number == applied[0]:
                opt = applied[1]  # a repeat: the same answer, nothing applied again
            else:
                opt = await self._apply_event(event)
                self._applied[event_id] = (number, opt)
            if event.get("response_required") == "always" and not _completed(event):
                answers.append(_event_answer(event, opt, message.get("request_id")))
        # The VTN sends every event that still matters; one it left out is over for us.
        sent = {str(e["event_descriptor"]["event_id"]) for e in events}
        self._applied = {k: v for k, v in self._applied.items() if k in sent}
        if not answers:
            return
        lowercase_vtn = str(message.get("vtn_id") or "").islower()  # not allowed by OpenADR
        response = {
            "response_code": enums.STATUS_CODES.INVALID_ID if lowercase_vtn else 200,
            "response_description": "ERROR" if lowercase_vtn else "OK",
            "request_id": message.get("request_id"),
        }
        await self.send(
            "EiEvent", "oadrCreatedEvent", response=response, event_responses=answers, ven_id=self.ven_id
        )

    async def _apply_event(self, event: dict[str, Any]) -> str:
        try:
            return await self._on_event_handler(event)
        except Exception:  # the core failed on it: we cannot follow it
            log.exception("opting out of event %s", event["event_descriptor"].get("event_id"))
            return OptType.OPT_OUT.value

    async def _on_event_handler(self, event: dict[str, Any]) -> str:
        try:
            signals = event_from_openleadr(event)
        except (EventUnreadable, KeyError, TypeError, ValueError) as exc:
            log.warning("opting out of an unreadable event: %s", exc)
            return OptType.OPT_OUT.value
        if signals[0].cancelled:
            self.core.cancel_event(signals[0].event_id)
            return OptType.OPT_IN.value
        opt, _reason = self.core.set_event(signals)
        return opt.value

    async def create_opt(
        self,
        opt_type: str,
        opt_reason: str,
        targets: list[dict[str, str | None]],
        vavailability: Any = None,
        event_id: str | None = None,
        modification_number: int | None = None,
        opt_id: str | None = None,
        request_id: str | None = None,
        market_context: str | None = None,
        signal_target_mrid: str | None = None,
    ) -> str | None:
        """oadrCreateOpt; returns the opt_id the VTN acknowledged, None when it did not.

        (openleadr's logged with a broken format string on every call.)
        """
        opt = objects.Opt(
            opt_type=opt_type,
            opt_reason=opt_reason,
            opt_id=opt_id or utils.generate_id(),
            created_date_time=datetime.now(UTC),
            event_id=event_id,
            modification_number=modification_number,
            vavailability=vavailability,
            targets=targets,
            market_context=market_context,
            signal_target_mrid=signal_target_mrid,
        )
        reply_type, reply = await self.send(
            "EiOpt",
            "oadrCreateOpt",
            request_id=request_id or utils.generate_id(),
            ven_id=self.ven_id,
            **asdict(opt),
        )
        if reply_type != "oadrCreatedOpt":
            log.warning("the VTN did not acknowledge opt %s (%s)", opt.opt_id, reply_type)
            return None
        self.opts.append(opt)
        return str(reply.get("opt_id") or opt.opt_id)

    async def send_opt_changes(self) -> int:
        """Tell the VTN about opts that changed (e.g. the user overrode a device mid-event)."""
        count = 0
        for event_id, opt, reason in self.core.reconsider_opts():
            opt_reason = "overrideStatus" if "override" in reason else "notParticipating"
            if opt == OptType.OPT_IN:
                opt_reason = "participating"
            await self.create_opt(
                opt.value,
                opt_reason,
                [{"ven_id": self.ven_id}],
                event_id=event_id,
                modification_number=self._modification(event_id),
            )
            count += 1
        return count

    def _modification(self, event_id: str) -> int:
        return next((e.modification_number for e in self.core.events() if e.event_id == event_id), 0)

    async def send_availability(self) -> int:
        """Each EV's plug-in window as an EiOpt optIn availability schedule."""
        entry = self.core.site_entry()
        count = 0
        for window in availability_windows(entry):
            availability = objects.Vavailability(
                components=[
                    objects.VavailabilityComponent(dtstart=window.start, duration=window.end - window.start)
                ]
            )
            await self.create_opt(
                "optIn",
                "participating",
                [{"resource_id": window.resource_id}],
                vavailability=availability,
                opt_id=f"avail-{window.resource_id}",
            )
            count += 1
        return count


def _requested(
    report: objects.Report, points: list[dict[str, Any]], granularity: timedelta | None
) -> tuple[list[str], timedelta | None, bool]:
    """The requested r_ids we offered (as requested), the granularity, and whether the VTN asked
    for one report only (granularity 0), as openleadr's `create_report` checked them."""
    specifier_id = report.report_specifier_id
    r_ids: list[str] = []
    single = False
    for point in points:
        r_id = point["r_id"]
        description = utils.find_by(report.report_descriptions, "r_id", r_id)
        if description is None:
            log.error("the VTN requested r_id %s of report %s, which we did not offer", r_id, specifier_id)
            continue
        wanted = point.get("measurement")
        if (
            wanted
            and description.measurement is not None
            and (
                wanted["description"] != description.measurement.description
                or wanted["unit"] != description.measurement.unit
            )
        ):
            log.error("the VTN requested r_id %s in another measurement than offered: %s", r_id, wanted)
            continue
        if granularity is None:
            granularity = description.sampling_rate.max_period
        elif granularity == timedelta(0):
            single = True
        elif not description.sampling_rate.min_period <= granularity <= description.sampling_rate.max_period:
            log.error(
                "the VTN requested r_id %s every %s, outside the offered sampling rate", r_id, granularity
            )
            continue
        r_ids.append(r_id)
    return r_ids, granularity, single


def _measurement(name: str, unit: str | None = None) -> objects.Measurement:
    """An OpenADR measurement by its openleadr name (REAL_POWER, ...), else a custom unit."""
    if name.upper() in enums.MEASUREMENTS.members:
        return replace(enums.MEASUREMENTS[name.upper()], scale="none")
    return objects.Measurement(name="customUnit", description=name, unit=unit, scale="none")


def _remove_job(request: dict[str, Any]) -> None:
    job = request.get("job")
    if job is not None:
        with contextlib.suppress(Exception):  # a job that already ended
            job.remove()


def _completed(event: dict[str, Any]) -> bool:
    """Over by its active period (openleadr answers no completed event; a VTN expects none)."""
    return bool(utils.determine_event_status(event["active_period"]) == "completed")


def _event_answer(event: dict[str, Any], opt: str, request_id: str | None) -> dict[str, Any]:
    """One eventResponse, as openleadr's client builds it (460 for a signal it does not know)."""
    signals = event.get("event_signals") or []
    if isinstance(signals, dict):
        signals = signals.get("event_signals") or []
    known = all(s.get("signal_name") in enums.SIGNAL_NAME.values for s in signals)
    code = 200 if known else enums.STATUS_CODES.SIGNAL_NOT_SUPPORTED
    descriptor = event["event_descriptor"]
    return {
        "response_code": code,
        "response_description": "OK" if known else "ERROR",
        "opt_type": opt,
        "request_id": request_id,
        "modification_number": descriptor.get("modification_number"),
        "event_id": descriptor["event_id"],
    }
