"""The OpenADR 2.0b side of the agent: `openleadr.OpenADRClient`, fixed where it is wrong.

What is changed from openleadr's client, and why:
- `run()` retries registration with exponential back-off instead of giving up when the VTN
  is unreachable at start-up (a gateway boots before the network is up).
- `_perform_request` tells "VTN unreachable" apart (the `reachable` flag) and always returns
  a (type, payload) pair (openleadr returns a bare None on an empty body).
- `update_report` builds our three reports itself: TELEMETRY_USAGE from the on-disk buffer
  (oldest first, marked sent only when the VTN answers oadrUpdatedReport 200, so an outage
  is backfilled without gap or duplicate), TELEMETRY_STATUS and the x-SITE_FLEXIBILITY report
  from the agent's current view. openleadr's queue worker drops a report whose send failed.
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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from openleadr import OpenADRClient, enums, objects, utils
from openleadr.messaging import parse_message, validate_xml_schema, validate_xml_signature

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
from ven.agent.signing import MessageSigner
from ven.agent.site_entry import Grid
from ven.clock import to_datetime

log = logging.getLogger(__name__)

RETRY_MIN_S = 1.0
SAMPLING = objects.SamplingRate(
    min_period=timedelta(seconds=1), max_period=timedelta(hours=1), on_change=False
)


def _reported(_: Any = None, **__: Any) -> float:
    """openleadr wants a callback per r_id; our update_report reads the agent instead."""
    return 0.0


class VenClient(OpenADRClient):  # type: ignore[misc]
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
        # tls = (client certificate, its key, CA of the VTN): openleadr then makes the TLS context
        # (mutual TLS with the VTN). With `sign`, every message is also signed with that key
        # (XML signature; the key is parsed once, see ven/agent/signing.py). With
        # `vtn_fingerprint`, a reply not signed by the VTN's certificate is dropped.
        cert, key, ca_file = tls if tls is not None else (None, None, None)
        if sign and (cert is None or key is None):
            raise ValueError("signing needs the TLS client certificate and key")
        super().__init__(
            ven_name=ven_name,
            vtn_url=vtn_url,
            disable_signature=True,
            show_fingerprint=False,
            allow_jitter=False,
            cert=cert,
            key=key,
            ca_file=ca_file,
            vtn_fingerprint=vtn_fingerprint,
        )
        if sign and cert is not None and key is not None:
            self._create_message = MessageSigner(Path(cert), Path(key)).create_message
        self.core = core
        self.buffer = buffer
        self.retry_max_s = retry_max_s
        self.batch = batch
        self.reachable = False
        self.registered = asyncio.Event()
        # Check every outgoing message against the OpenADR 2.0b XSD (tests; costs CPU on a gateway).
        self.validate_outgoing = validate_outgoing
        self.invalid_outgoing = 0
        self._stopping = False
        # eventID -> (modificationNumber applied, our answer to it): a repeat is not applied again
        self._applied: dict[str, tuple[int, str]] = {}
        # One offer at a time (offer_and_register): run()'s and housekeeping's overlapped
        self._offering = asyncio.Lock()
        self._sending = asyncio.Lock()  # one send of the telemetry buffer at a time (send_buffered)
        self.add_handler("on_event", self._on_event_handler)
        self.add_handler("on_update_event", self._on_event_handler)

    # --- transport ----------------------------------------------------------------------------
    async def _perform_request(self, service: str, message: Any) -> tuple[str | None, dict[str, Any]]:
        if self._stopping:  # a scheduled job still running while the agent shuts down
            return None, {}
        if self.validate_outgoing:
            self._check_outgoing(service, message)
        answer = await self._exchange(service, message)
        if answer is None:
            return None, {}
        status, content = answer
        if status != 200:
            log.warning("VTN answered HTTP %d to %s: %s", status, service, content[:300])
            return None, {}
        if not content:
            return None, {}
        try:
            tree = validate_xml_schema(content)
            if self.vtn_fingerprint:  # signed by the VTN's certificate, fresh, nonce not seen
                validate_xml_signature(tree, cert_fingerprint=self.vtn_fingerprint)
            message_type, payload = parse_message(content)
        except Exception as exc:  # lxml and openleadr raise several types for a bad message
            log.warning("VTN's answer to %s failed validation: %s", service, exc)
            return None, {}
        return message_type, payload

    def _check_outgoing(self, service: str, message: Any) -> None:
        try:
            validate_xml_schema(message if isinstance(message, bytes) else str(message).encode())
        except Exception as exc:  # lxml's XMLSyntaxError and DocumentInvalid
            self.invalid_outgoing += 1
            log.error("our own %s message fails the OpenADR 2.0b XSD: %s", service, exc)

    async def _exchange(self, service: str, message: Any) -> tuple[int, bytes] | None:
        """POST the message; the reply's status and body, or None when the VTN was not reached
        (or the agent stopped meanwhile)."""
        await self._ensure_client_session()
        try:
            async with self.client_session.post(f"{self.vtn_url}/{service}", data=message) as reply:
                content = await reply.read()
                status = reply.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            if self.reachable:
                log.warning("VTN %s unreachable: %s", self.vtn_url, exc)
            self.reachable = False
            return None
        except asyncio.CancelledError:
            if self._stopping:  # stop() cancels the scheduler's jobs: a report in flight is dropped
                return None  # (the buffer keeps it), not logged as a failed job
            raise
        if not self.reachable:
            log.info("VTN %s reachable", self.vtn_url)
        self.reachable = True
        return status, content

    # --- lifecycle ----------------------------------------------------------------------------
    async def run(self) -> None:
        self.loop = asyncio.get_running_loop()
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
        if self.client_session is not None:
            await self.client_session.close()

    # --- reports ------------------------------------------------------------------------------
    def offer_reports(self) -> None:
        """METADATA for the devices discovered so far (call again after new devices appear).

        The VTN retires its requests for an earlier offer, so their jobs are dropped here.
        """
        for request in self.report_requests:
            job = request.get("job")
            if job is not None:
                with contextlib.suppress(Exception):  # a job that already ended
                    job.remove()
        self.report_requests.clear()
        self.reports.clear()
        self.report_callbacks.clear()
        snapshot = self.core.snapshot()
        common = {"callback": _reported, "sampling_rate": SAMPLING, "report_duration": timedelta(hours=1)}
        for r_id, resource, report_type, measurement in usage_points(snapshot):
            self.add_report(
                resource_id=resource,
                measurement=measurement,
                r_id=r_id,
                report_specifier_id=USAGE_SPECIFIER,
                report_name=enums.REPORT_NAME.TELEMETRY_USAGE,
                report_type=report_type,
                **common,
            )
        for r_id, (resource, _) in status_values(snapshot, self.core.agent_status()).items():
            self.add_report(
                resource_id=resource,
                r_id=r_id,
                report_specifier_id=STATUS_SPECIFIER,
                report_name=enums.REPORT_NAME.TELEMETRY_STATUS,
                report_type="x-resourceStatus",
                reading_type="x-notApplicable",
                **common,
            )
        for point in flex_point_templates(snapshot):
            self.add_report(
                resource_id=point.resource_id,
                measurement=point.unit,
                unit=point.unit,
                r_id=point.r_id,
                report_specifier_id=FLEX_SPECIFIER,
                report_name=FLEX_REPORT_NAME,
                report_type=point.report_type,
                reading_type=point.reading_type,
                **common,
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

    async def create_report(self, response_payload: dict[str, Any]) -> None:
        """openleadr's (it answers oadrCreatedReport), with one request, and one reporting job, per
        report (reportSpecifierID): the latest request for a report replaces an earlier one. The
        VTN sends an oadrCreateReport again until our answer reaches it, and openleadr added a
        job (so sent every report twice) for each copy; and the VTN keeps one live request per
        report, retiring the earlier ones when it makes a new one."""
        await super().create_report(response_payload)
        latest: dict[str, dict[str, Any]] = {}
        for request in self.report_requests:  # in arrival order
            earlier = latest.get(request["report_specifier_id"])
            if earlier is not None and earlier.get("job") is not None:
                with contextlib.suppress(Exception):  # a job that already ended
                    earlier["job"].remove()
            latest[request["report_specifier_id"]] = request
        self.report_requests[:] = list(latest.values())

    async def cancel_report(self, payload: dict[str, Any]) -> None:
        """openleadr's, and a request already cancelled is answered too: the VTN sends the
        oadrCancelReport again until our oadrCanceledReport reaches it (openleadr said nothing)."""
        if utils.find_by(self.report_requests, "report_request_id", payload["report_request_id"]):
            await super().cancel_report(payload)
            return
        response = {"response_code": 200, "response_description": "OK", "request_id": payload["request_id"]}
        message = self._create_message(
            "oadrCanceledReport", response=response, pending_reports=[], ven_id=self.ven_id
        )
        await self._perform_request("EiReport", message)

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
        message = self._create_message(
            "oadrUpdateReport", ven_id=self.ven_id, request_id=utils.generate_id(), reports=[report]
        )
        reply_type, reply = await self._perform_request("EiReport", message)
        code = (reply.get("response") or {}).get("response_code") if reply else None
        ok = reply_type == "oadrUpdatedReport" and str(code) == "200"
        if ok and "cancel_report" in reply:
            await self.cancel_report(reply["cancel_report"])
        return ok

    # --- events and opts ----------------------------------------------------------------------
    async def _on_event(self, message: dict[str, Any]) -> None:
        """An oadrDistributeEvent (or the oadrRequestEvent answer): apply what is new, answer all.

        Replaces openleadr's: the VTN sends a distribute again until we answer it, so a
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
        created = self._create_message(
            "oadrCreatedEvent", response=response, event_responses=answers, ven_id=self.ven_id
        )
        await self._perform_request("EiEvent", created)

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
        targets: list[dict[str, str]],
        vavailability: Any = None,
        event_id: str | None = None,
        modification_number: int | None = None,
        opt_id: str | None = None,
        request_id: str | None = None,
        market_context: str | None = None,
        signal_target_mrid: str | None = None,
    ) -> str | None:
        """oadrCreateOpt; returns the opt_id the VTN acknowledged, None when it did not.

        Replaces openleadr's, which logs with a broken format string on every call.
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
        message = self._create_message(
            "oadrCreateOpt", request_id=request_id or utils.generate_id(), ven_id=self.ven_id, **asdict(opt)
        )
        reply_type, reply = await self._perform_request("EiOpt", message)
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
