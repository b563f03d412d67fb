"""REST handlers: parse (done by the route table), call a vtn.services function, render.

Every route is declared on `ROUTES` with the roles it admits; see vtn/api/endpoints.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

from aggregator import events, reports, vens
from aggregator.event_rules import EventSpec, IntervalSpec
from aggregator.opts import list_opts
from aggregator.site import site_flexibility, site_status
from aggregator.telemetry import query_telemetry, query_vens_telemetry
from vtn.api import schemas as s
from vtn.api.endpoints import OPERATOR, PRINCIPAL, PUBLIC, Call, RouteTable
from vtn.api.tokens import Role
from vtn.db.errors import DatabaseError, DuplicateKey, describe
from vtn.db.uow import UnitOfWork
from vtn.errors import Conflict, InvalidInput, NotFound
from vtn.keys import LEADERSHIP, POLL_CACHE, SETTINGS

ROUTES = RouteTable()
CUSTOMER = frozenset({Role.CUSTOMER})
OPENAPI = web.AppKey("openapi", dict[str, Any])


@ROUTES.route(
    "GET", "/health", summary="Liveness and database check", roles=PUBLIC, response=s.Health, errors=(503,)
)
async def health(call: Call[None, None]) -> s.Health:
    """Answers 200 when the VTN runs and its database takes a write: a load balancer takes an
    instance whose database is unreachable, full or read-only out of service (503)."""
    vtn_id = call.request.config_dict[SETTINGS].vtn_id
    try:
        async with UnitOfWork(call.sessions) as uow:
            await uow.ping()
    except (DatabaseError, OSError) as exc:
        raise web.HTTPServiceUnavailable(text=f"database unavailable: {exc.__class__.__name__}") from exc
    try:
        async with UnitOfWork(call.sessions) as uow:
            await uow.check_writable(vtn_id, call.now)
    except (DatabaseError, OSError) as exc:
        raise web.HTTPServiceUnavailable(text=f"database unwritable: {describe(exc)}") from exc
    return s.Health(status="ok", vtn_id=vtn_id, leader=call.request.config_dict[LEADERSHIP].leading)


@ROUTES.route(
    "GET", "/openapi.json", summary="This API's OpenAPI 3.1 document", roles=PUBLIC, response=dict[str, Any]
)
async def openapi(call: Call[None, None]) -> dict[str, Any]:
    return call.request.app[OPENAPI]


# ---- VENs ---------------------------------------------------------------------------------------


@ROUTES.route(
    "POST",
    "/vens",
    summary="Pre-provision a VEN",
    roles=OPERATOR,
    body=s.VenCreate,
    response=s.VenOut,
    status=201,
    errors=(409,),
)
async def create_ven(call: Call[s.VenCreate, None]) -> Any:
    """The VEN may then register over OpenADR with this ven_name (and fingerprint, if given)."""
    body = call.body
    new = vens.NewVen(body.ven_name, body.site_id, body.fingerprint, body.xml_signatures)
    try:
        return await vens.provision_ven(UnitOfWork(call.sessions), new, call.now)
    except DuplicateKey as err:  # a concurrent request took the name after the use case checked it
        raise Conflict(f"a VEN named {body.ven_name.strip()!r} already exists") from err


@ROUTES.route("GET", "/vens", summary="List VENs", roles=OPERATOR, response=list[s.VenOut])
async def list_vens(call: Call[None, None]) -> Any:
    return await vens.list_vens(UnitOfWork(call.sessions), call.now, call.poll_cache, _poll_interval(call))


@ROUTES.route(
    "GET",
    "/vens/{ven_id}",
    summary="One VEN: registration, last poll, online",
    roles=OPERATOR,
    response=s.VenOut,
    errors=(404,),
)
async def get_ven(call: Call[None, None]) -> Any:
    return await vens.get_ven(
        UnitOfWork(call.sessions), call.path["ven_id"], call.now, call.poll_cache, _poll_interval(call)
    )


@ROUTES.route(
    "PATCH",
    "/vens/{ven_id}",
    summary="Change a VEN's certificate fingerprint or signature policy",
    roles=OPERATOR,
    body=s.VenPatch,
    response=s.VenOut,
    errors=(404,),
)
async def update_ven(call: Call[s.VenPatch, None]) -> Any:
    """Only the fields given change (null clears); the OpenADR side sees the change within 10 s."""
    body = call.body
    given = body.model_fields_set
    return await vens.update_ven(
        UnitOfWork(call.sessions),
        call.path["ven_id"],
        call.now,
        call.poll_cache,
        fingerprint=body.fingerprint if "fingerprint" in given else vens.UNCHANGED,
        xml_signatures=body.xml_signatures if "xml_signatures" in given else vens.UNCHANGED,
        poll_interval_seconds=_poll_interval(call),
    )


@ROUTES.route(
    "DELETE",
    "/vens/{ven_id}",
    summary="Cancel a VEN's registration",
    roles=OPERATOR,
    response=s.VenCancelAccepted,
    status=202,
    errors=(404, 409),
)
async def cancel_ven(call: Call[None, None]) -> s.VenCancelAccepted:
    """Queues oadrCancelPartyRegistration; it takes effect on the VEN's next poll."""
    ven_id = call.path["ven_id"]
    await vens.cancel_ven_registration(UnitOfWork(call.sessions), ven_id, call.now, call.poll_cache)
    return s.VenCancelAccepted(
        ven_id=ven_id, detail="oadrCancelPartyRegistration is queued for the VEN's next poll"
    )


@ROUTES.route(
    "GET",
    "/vens/{ven_id}/telemetry",
    summary="Stored report values of a VEN",
    roles=OPERATOR,
    query=s.TelemetryQuery,
    response=list[s.TelemetryPointOut],
    errors=(404,),
)
async def ven_telemetry(call: Call[None, s.TelemetryQuery]) -> Any:
    """Values of the VEN's oadrUpdateReports with since <= dtstart < until, oldest first."""
    query = call.query
    return await query_telemetry(UnitOfWork(call.sessions), call.path["ven_id"], query.since, query.until)


@ROUTES.route(
    "GET",
    "/telemetry",
    summary="Stored report values of several VENs, whichever protocol they report over",
    roles=OPERATOR,
    query=s.VensTelemetryQuery,
    response=list[s.VenTelemetryPointOut],
    errors=(404,),
)
async def vens_telemetry(call: Call[None, s.VensTelemetryQuery]) -> Any:
    """Values of the VENs' oadrUpdateReports and OpenADR 3.1 reports with since <= dtstart < until,
    by time, then venID."""
    query = call.query
    found = await query_vens_telemetry(UnitOfWork(call.sessions), query.ven_id_list, query.since, query.until)
    return [s.VenTelemetryPointOut(ven_id=p.ven_id, **dataclasses.asdict(p.point)) for p in found]


@ROUTES.route(
    "GET",
    "/vens/{ven_id}/opts",
    summary="A VEN's EiOpt records",
    roles=OPERATOR,
    response=list[s.OptOut],
    errors=(404,),
)
async def ven_opts(call: Call[None, None]) -> Any:
    return await list_opts(UnitOfWork(call.sessions), call.path["ven_id"])


# ---- Operator commands for a VEN: each queues an OpenADR message for its next poll ---------------


@ROUTES.route(
    "POST",
    "/vens/{ven_id}/reregistration",
    summary="Ask a VEN to register again",
    roles=OPERATOR,
    response=s.VenCommandAccepted,
    status=202,
    errors=(404,),
)
async def request_ven_reregistration(call: Call[None, None]) -> s.VenCommandAccepted:
    """Queues oadrRequestReregistration; the VEN gets it on its next poll."""
    ven_id = call.path["ven_id"]
    await vens.request_reregistration(UnitOfWork(call.sessions), ven_id, call.now, call.poll_cache)
    return s.VenCommandAccepted(
        ven_id=ven_id, detail="oadrRequestReregistration is queued for the VEN's next poll"
    )


@ROUTES.route(
    "GET",
    "/vens/{ven_id}/report-requests",
    summary="A VEN's live report requests",
    roles=OPERATOR,
    response=list[s.ReportRequestOut],
    errors=(404,),
)
async def ven_report_requests(call: Call[None, None]) -> Any:
    """The reports the VTN asked the VEN for and has not cancelled, oldest first."""
    return await reports.list_report_requests(UnitOfWork(call.sessions), call.path["ven_id"])


@ROUTES.route(
    "POST",
    "/vens/{ven_id}/report-requests",
    summary="Request a VEN's offered telemetry again",
    roles=OPERATOR,
    body=s.ReportRequestCreate,
    body_required=False,
    response=s.ReportRequestsAccepted,
    status=202,
    errors=(404,),
)
async def request_ven_reports(call: Call[s.ReportRequestCreate, None]) -> s.ReportRequestsAccepted:
    """Queues one oadrCreateReport for each offered TELEMETRY_USAGE, TELEMETRY_STATUS and
    x-SITE_FLEXIBILITY report that has no live request (e.g. after a cancel); none: nothing queued."""
    ven_id = call.path["ven_id"]
    granularity_seconds = call.body.granularity_seconds or call.settings.report_interval_seconds
    ids = await reports.request_telemetry(
        UnitOfWork(call.sessions), call.poll_cache, ven_id, granularity_seconds, call.now
    )
    return s.ReportRequestsAccepted(ven_id=ven_id, report_request_ids=ids)


@ROUTES.route(
    "DELETE",
    "/vens/{ven_id}/report-requests/{report_request_id}",
    summary="Cancel one of a VEN's report requests",
    roles=OPERATOR,
    response=s.ReportCancelAccepted,
    status=202,
    errors=(404,),
)
async def cancel_ven_report_request(call: Call[None, None]) -> s.ReportCancelAccepted:
    """Queues oadrCancelReport; 404 if the request is not the VEN's or is cancelled already."""
    ven_id, report_request_id = call.path["ven_id"], call.path["report_request_id"]
    await reports.cancel_report_request(
        UnitOfWork(call.sessions), call.poll_cache, ven_id, report_request_id, call.now
    )
    return s.ReportCancelAccepted(
        ven_id=ven_id,
        report_request_id=report_request_id,
        detail="oadrCancelReport is queued for the VEN's next poll",
    )


@ROUTES.route(
    "GET",
    "/vens/{ven_id}/site",
    summary="The VEN's site as a plan-format entry",
    roles=OPERATOR | CUSTOMER,
    response=s.SiteOut,
    errors=(404, 409),
)
async def ven_site(call: Call[None, None]) -> Any:
    """Rebuilt from the VEN's latest x-SITE_FLEXIBILITY report (docs/openadr-mapping.md); 409
    until a usable one has arrived. A customer token sees only its own site."""
    return await site_flexibility(UnitOfWork(call.sessions), call.path["ven_id"], call.now, own_site(call))


@ROUTES.route(
    "GET",
    "/vens/{ven_id}/status",
    summary="The newest status of the VEN's devices",
    roles=OPERATOR | CUSTOMER,
    response=s.SiteStatusOut,
    errors=(404, 409),
)
async def ven_status(call: Call[None, None]) -> Any:
    """Online, manual override, state of charge and plugged-in per device, from the newest
    TELEMETRY_STATUS values of our agent's float form, and per rID the newest standard
    oadrPayloadResourceStatus (online, manual override, load control state; docs/vtn.md);
    409 until either has arrived. A customer token sees only its own site."""
    return await site_status(UnitOfWork(call.sessions), call.path["ven_id"], own_site(call))


def own_site(call: Call[Any, Any]) -> str | None:
    """The only site a customer may see ("" for a customer token without one: none); None: any."""
    principal = call.request[PRINCIPAL]
    return (principal.site_id or "") if principal.role == Role.CUSTOMER else None


# ---- Events -------------------------------------------------------------------------------------


@ROUTES.route(
    "POST",
    "/events",
    summary="Create a DR event",
    roles=OPERATOR,
    body=s.EventCreate,
    response=s.EventOut,
    status=201,
    errors=(409,),
)
async def create_event(call: Call[s.EventCreate, None]) -> Any:
    """Queued as oadrDistributeEvent for each VEN; 409 if it overlaps another event of a VEN
    in the same market context."""
    with unknown_ven_is_a_field_error():
        return await events.create_event(
            UnitOfWork(call.sessions),
            event_spec(call.body),
            call.now,
            call.request.config_dict[POLL_CACHE],
            _near(call),
        )


def event_spec(body: s.EventCreate) -> EventSpec:
    """The use case's command from a validated body (the REST API's and the dashboard's form)."""
    return EventSpec(
        ven_ids=tuple(body.ven_ids),
        signal_name=str(body.signal_name),
        signal_type=body.signal_type.value,
        intervals=_intervals(body.intervals),
        market_context=body.market_context,
        priority=body.priority,
        ramp_up_seconds=body.ramp_up_seconds,
        response_required=body.response_required.value,
        start_after_seconds=body.start_after_seconds,
    )


@ROUTES.route("GET", "/events", summary="List events", roles=OPERATOR, response=list[s.EventOut])
async def list_events(call: Call[None, None]) -> Any:
    return await events.list_events(UnitOfWork(call.sessions), call.now, _near(call))


@ROUTES.route(
    "GET",
    "/events/{event_id}",
    summary="One event with its status and VEN responses",
    roles=OPERATOR,
    response=s.EventOut,
    errors=(404,),
)
async def get_event(call: Call[None, None]) -> Any:
    return await events.get_event(UnitOfWork(call.sessions), call.path["event_id"], call.now, _near(call))


@ROUTES.route(
    "PATCH",
    "/events/{event_id}",
    summary="Modify an event",
    roles=OPERATOR,
    body=s.EventPatch,
    response=s.EventOut,
    errors=(404, 409),
)
async def modify_event(call: Call[s.EventPatch, None]) -> Any:
    """The modificationNumber goes up by one and the event is re-distributed."""
    with unknown_ven_is_a_field_error():
        return await events.modify_event(
            UnitOfWork(call.sessions),
            call.path["event_id"],
            event_patch(call.body),
            call.now,
            call.request.config_dict[POLL_CACHE],
            _near(call),
        )


def event_patch(body: s.EventPatch) -> events.EventPatch:
    """The use case's patch from a validated body (None: unchanged)."""
    return events.EventPatch(
        ven_ids=tuple(body.ven_ids) if body.ven_ids is not None else None,
        signal_name=str(body.signal_name) if body.signal_name is not None else None,
        signal_type=body.signal_type.value if body.signal_type is not None else None,
        intervals=_intervals(body.intervals) if body.intervals is not None else None,
        market_context=body.market_context,
        priority=body.priority,
        ramp_up_seconds=body.ramp_up_seconds,
        response_required=body.response_required.value if body.response_required is not None else None,
        start_after_seconds=body.start_after_seconds,
    )


@ROUTES.route(
    "DELETE",
    "/events/{event_id}",
    summary="Cancel an event",
    roles=OPERATOR,
    response=s.EventOut,
    errors=(404, 409),
)
async def cancel_event(call: Call[None, None]) -> Any:
    """Status becomes cancelled; the modificationNumber goes up and the VENs are told."""
    return await events.cancel_event(
        UnitOfWork(call.sessions),
        call.path["event_id"],
        call.now,
        call.request.config_dict[POLL_CACHE],
        _near(call),
    )


def _poll_interval(call: Call[Any, Any]) -> int:
    return call.settings.poll_interval_seconds


def _near(call: Call[Any, Any]) -> int:
    return call.settings.near_window_seconds


def _intervals(intervals: list[s.IntervalIn]) -> tuple[IntervalSpec, ...]:
    return tuple(IntervalSpec(i.start, i.duration_seconds, i.value) for i in intervals)


@contextmanager
def unknown_ven_is_a_field_error() -> Iterator[None]:
    """A VEN named in the body that does not exist is bad input (422 on ven_ids), not a missing URL."""
    try:
        yield
    except NotFound as exc:
        if exc.kind.lower() not in ("ven", "ven_id"):
            raise
        raise InvalidInput("ven_ids", f"unknown VEN {exc.key!r}") from exc
