"""EiOpt: oadrCreateOpt (availability schedules and event-scoped opts) and oadrCancelOpt."""

from __future__ import annotations

from aggregator.opts import NewOpt, cancel_opt, create_opt
from aggregator.records import OptWindow
from vtn.db.uow import UnitOfWork
from vtn.errors import InvalidInput
from vtn.openadr.context import Context, Handler
from vtn.openadr.render import render, response
from vtn.openadr.xml import NS, parse_datetime, parse_seconds, text, texts

AVAILABLE = "xcal:vavailability/xcal:components/xcal:available/xcal:properties"


def _windows(ctx: Context) -> tuple[OptWindow, ...]:
    windows = []
    for props in ctx.message.findall(AVAILABLE, NS):
        start = text(props, "xcal:dtstart/xcal:date-time")
        duration = text(props, "xcal:duration/xcal:duration")
        if start is None or duration is None:
            raise InvalidInput("vavailability", "every available component needs dtstart and duration")
        try:
            windows.append(OptWindow(parse_datetime(start), parse_seconds(duration)))
        except ValueError as err:
            raise InvalidInput("vavailability", str(err)) from err
    return tuple(windows)


def _new_opt(ctx: Context) -> NewOpt:
    m = ctx.message
    modification = text(m, "ei:qualifiedEventID/ei:modificationNumber")
    return NewOpt(
        opt_id=text(m, "ei:optID") or "",
        opt_type=text(m, "ei:optType") or "",
        opt_reason=text(m, "ei:optReason") or "",
        market_context=text(m, "emix:marketContext"),
        event_id=text(m, "ei:qualifiedEventID/ei:eventID"),
        modification_number=int(modification) if modification is not None else None,
        resource_ids=tuple(texts(m, "ei:eiTarget/ei:resourceID")),
        windows=_windows(ctx),
    )


async def oadr_create_opt(ctx: Context) -> str:
    opt = await create_opt(UnitOfWork(ctx.sessions), ctx.ven_id or "", _new_opt(ctx), ctx.now)
    return render("oadrCreatedOpt", response=response(200, "OK", ctx.request_id), opt_id=opt.opt_id)


async def oadr_cancel_opt(ctx: Context) -> str:
    opt_id = text(ctx.message, "ei:optID") or ""
    await cancel_opt(UnitOfWork(ctx.sessions), ctx.ven_id or "", opt_id, ctx.now)
    return render("oadrCanceledOpt", response=response(200, "OK", ctx.request_id), opt_id=opt_id)


HANDLERS: dict[str, Handler] = {
    "oadrCreateOpt": oadr_create_opt,
    "oadrCancelOpt": oadr_cancel_opt,
}
