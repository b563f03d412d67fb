"""The ObjectRenderer port (aggregator/openadr3_notifications.py) over the 3.1 face's storage:
a changed object as the 3.1 API shows it, and whom it concerns.

Objects the face stores whole (programs, resources, reports, subscriptions: `uow.oa3`) are shown
as the API shows them (`as_json`). Events and VENs are 2.0b records with a 3.1 side, shown by the
face's own functions (`event_json`, `ven_json`); an event concerns the VENs it targets. Who
another object concerns follows `read_targets`: one without targets every VEN (`all_vens`), a
targeted one the VENs whose target names (venName and the targets a BL client gave it) meet its
targets, and a VEN's own object (its resources, reports, itself) that VEN.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aggregator.openadr3_common import as_json, targets_of, ven_target_names
from aggregator.openadr3_events import event_json
from aggregator.openadr3_notification_records import ObjectOperations, RenderedObject, SubscriptionView
from aggregator.openadr3_records import ClientRole, Oa3Object, ObjectType
from aggregator.openadr3_vens import ven_json
from aggregator.uow import UnitOfWork

# object type -> (entered unit of work, object id) -> the object as shown, None if it is gone
Shown = tuple[dict[str, Any], str | None, str | None]  # (its JSON, its program id, its own VEN id)


async def _event(uow: UnitOfWork, event_id: str) -> RenderedObject | None:
    """A DR event as a 3.1 event (a cancelled one too: its DELETE shows it as it was); it
    concerns the VENs it targets."""
    event = await uow.events.get(event_id)
    if event is None:
        return None
    programs = await uow.oa3.find(ObjectType.PROGRAM, market_context=event.market_context)
    program_id = programs[0].object_id if programs else ""
    ven_ids = (await uow.events.targets([event_id])).get(event_id, [])
    names = {v.ven_id: v.ven_name for v in await uow.vens.all()}
    meta = await uow.oa3.get(ObjectType.EVENT, event_id)
    body = event_json(event, program_id, [names.get(v, v) for v in ven_ids], meta)
    return RenderedObject(body, program_id or None, tuple(ven_ids))


async def _ven(uow: UnitOfWork, ven_id: str) -> RenderedObject | None:
    ven = await uow.vens.get(ven_id)
    if ven is None:
        return None
    return RenderedObject(
        await ven_json(uow, ven, await uow.oa3.get(ObjectType.VEN, ven_id)), None, (ven_id,)
    )


RENDERERS: dict[ObjectType, Callable[[UnitOfWork, str], Awaitable[RenderedObject | None]]] = {
    ObjectType.EVENT: _event,
    ObjectType.VEN: _ven,
}


def _stored(obj: Oa3Object) -> Shown:
    program_id = obj.object_id if obj.object_type is ObjectType.PROGRAM else obj.program_id
    return as_json(obj), program_id, obj.ven_id


async def _ven_ids_for(uow: UnitOfWork, targets: list[str]) -> tuple[str, ...]:
    """The VENs whose target names meet `targets`."""
    wanted = set(targets)
    found = []
    for ven in await uow.vens.all():
        if wanted & await ven_target_names(uow, ven):
            found.append(ven.ven_id)
    return tuple(found)


class FaceRenderer:
    async def render(self, uow: UnitOfWork, object_type: ObjectType, object_id: str) -> RenderedObject | None:
        async with uow:
            if object_type in RENDERERS:
                return await RENDERERS[object_type](uow, object_id)
            obj = await uow.oa3.get(object_type, object_id)
            if obj is None:
                return None
            body, program_id, own_ven = _stored(obj)
            if own_ven is not None:
                return RenderedObject(body, program_id, (own_ven,))
            targets = targets_of(body)
            if not targets:
                return RenderedObject(body, program_id, tuple(v.ven_id for v in await uow.vens.all()), True)
            return RenderedObject(body, program_id, await _ven_ids_for(uow, targets))

    async def subscriptions(self, uow: UnitOfWork) -> Sequence[SubscriptionView]:
        async with uow:
            stored = await uow.oa3.find(ObjectType.SUBSCRIPTION)
            views = []
            for sub in stored:
                views.append(await _view(uow, sub))
        return views


async def _view(uow: UnitOfWork, sub: Oa3Object) -> SubscriptionView:
    """A stored subscription as matching needs it; a VEN client's is bound to its VEN."""
    body = sub.body
    entries = tuple(
        ObjectOperations(
            frozenset(ObjectType(o) for o in entry.get("objects") or [] if o in ObjectType.__members__),
            frozenset(str(op) for op in entry.get("operations") or []),
            str(entry.get("callbackUrl") or ""),
            entry.get("bearerToken"),
        )
        for entry in body.get("objectOperations") or []
    )
    ven_id = sub.ven_id
    if ven_id is None and sub.client_id is not None:
        client = await uow.clients.get(sub.client_id)
        if client is not None and client.role is ClientRole.VEN and client.ven_name is not None:
            ven = await uow.vens.by_name(client.ven_name)
            ven_id = ven.ven_id if ven is not None else "(no VEN yet)"
    return SubscriptionView(
        sub.object_id, body.get("programID"), entries, frozenset(targets_of(body)), ven_id
    )
