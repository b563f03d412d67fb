"""OpenADR 3.1 VENs and resources.

A 3.1 VEN is a flexvpp VEN (the `vens` table: one state for both protocols, so the planner and
2.0b events target it alike); its site is its venName. What 2.0b has no place for (the clientID
a BL client gave it, its targets and attributes) is its VEN object in oa3_objects. A VEN made
over REST or 2.0b shows over 3.1 too, with the clientID of the VEN client named after it (or its
venID while there is none). Resources are 3.1 objects of their VEN (gone with it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from aggregator.errors import Conflict, InvalidInput, NotFound, Unauthorized
from aggregator.ids import new_id
from aggregator.openadr3_common import (
    Caller,
    Page,
    as_json,
    matches_targets,
    metadata,
    own_ven,
    targets_of,
)
from aggregator.openadr3_notification_records import Operation, RenderedObject
from aggregator.openadr3_notifications import record_change
from aggregator.openadr3_records import Oa3Object, ObjectType, Scope
from aggregator.records import VenRecord
from aggregator.uow import UnitOfWork

VEN_VEN_REQUEST = "VEN_VEN_REQUEST"


async def _client_id(uow: UnitOfWork, ven: VenRecord, meta: Oa3Object | None) -> str:
    if meta is not None and meta.client_id:
        return meta.client_id
    clients = await uow.clients.of_ven_name(ven.ven_name)
    return clients[0].client_id if clients else ven.ven_id


async def ven_json(uow: UnitOfWork, ven: VenRecord, meta: Oa3Object | None) -> dict[str, Any]:
    out = metadata(ven.ven_id, ven.created_at, meta.modified_at if meta else ven.created_at, "VEN")
    out["clientID"] = await _client_id(uow, ven, meta)
    out["venName"] = ven.ven_name
    if meta is not None:
        out.update({k: v for k, v in meta.body.items() if k in ("targets", "attributes")})
    return out


async def _visible_vens(uow: UnitOfWork, caller: Caller) -> list[VenRecord]:
    if not caller.is_ven:
        return await uow.vens.all()
    mine = await own_ven(uow, caller)
    return [mine] if mine is not None else []


async def list_vens(
    uow: UnitOfWork, caller: Caller, ven_name: str | None, targets: Sequence[str] | None, page: Page
) -> list[dict[str, Any]]:
    caller.require(Scope.READ_VEN_OBJECTS)
    async with uow:
        vens = [v for v in await _visible_vens(uow, caller) if ven_name is None or v.ven_name == ven_name]
        metas = await uow.oa3.get_many(ObjectType.VEN, [v.ven_id for v in vens])
        if targets:
            vens = [
                v
                for v in vens
                if matches_targets(targets_of(metas[v.ven_id].body) if v.ven_id in metas else [], targets)
            ]
        return [await ven_json(uow, v, metas.get(v.ven_id)) for v in page.of(vens)]


async def _mine(uow: UnitOfWork, caller: Caller, ven_id: str) -> VenRecord:
    """The VEN, if the caller may see it (NotFound otherwise: another VEN's is not disclosed)."""
    ven = await uow.vens.get(ven_id)
    if ven is None:
        raise NotFound("ven", ven_id)
    if caller.is_ven:
        mine = await own_ven(uow, caller)
        if mine is None or mine.ven_id != ven_id:
            raise NotFound("ven", ven_id)
    return ven


async def get_ven(uow: UnitOfWork, caller: Caller, ven_id: str) -> dict[str, Any]:
    caller.require(Scope.READ_VEN_OBJECTS)
    async with uow:
        ven = await _mine(uow, caller, ven_id)
        return await ven_json(uow, ven, await uow.oa3.get(ObjectType.VEN, ven_id))


def _meta_body(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k in ("targets", "attributes")}


def _check_request_kind(caller: Caller, body: dict[str, Any]) -> None:
    if caller.is_ven and body["objectType"] != VEN_VEN_REQUEST:
        raise Unauthorized("a VEN client sends a VEN_VEN_REQUEST (targets and clientID are the BL's)")


async def create_ven(uow: UnitOfWork, caller: Caller, body: dict[str, Any], now: datetime) -> dict[str, Any]:
    """`body`: a venRequest. A VEN client makes its own VEN (and is bound to it); InvalidInput if
    the name is taken or the client has its VEN already."""
    caller.require(Scope.WRITE_VENS)
    _check_request_kind(caller, body)
    name = body["venName"]
    async with uow:
        if caller.is_ven:
            if caller.ven_name is not None and caller.ven_name != name:
                raise Unauthorized(f"this client acts for the VEN {caller.ven_name}, not {name}")
            if await own_ven(uow, caller) is not None:
                raise InvalidInput("venName", "this client's VEN exists already (GET /vens?venName=...)")
        if await uow.vens.by_name(name) is not None:
            # The spec's POST /vens documents no 409: a taken name is a bad request there.
            raise InvalidInput("venName", f"a VEN named {name!r} exists already")
        ven = VenRecord(ven_id=new_id(), ven_name=name, site_id=name, created_at=now)
        uow.vens.add(ven)
        # Read it back before its VEN object refers to it: a SQL unit of work then writes the VEN
        # first (it knows no order between the two tables' rows otherwise).
        await uow.vens.existing_ids([ven.ven_id])
        client_id = body.get("clientID") or caller.client_id
        meta = Oa3Object(
            ObjectType.VEN, ven.ven_id, now, now, _meta_body(body), client_id=client_id, ven_id=ven.ven_id
        )
        uow.oa3.add(meta)
        if caller.is_ven and caller.ven_name is None:
            client = await uow.clients.get(caller.client_id)
            if client is not None:
                await uow.clients.save(dataclasses.replace(client, ven_name=name))
        record_change(uow, ObjectType.VEN, Operation.CREATE, ven.ven_id, now)
        await uow.commit()
        return await ven_json(uow, ven, meta)


async def update_ven(
    uow: UnitOfWork, caller: Caller, ven_id: str, body: dict[str, Any], now: datetime
) -> dict[str, Any]:
    caller.require(Scope.WRITE_VENS)
    _check_request_kind(caller, body)
    async with uow:
        ven = await _mine(uow, caller, ven_id)
        name = body["venName"]
        if name != ven.ven_name:
            if caller.is_ven or await uow.clients.of_ven_name(ven.ven_name):
                raise Conflict("a VEN that a client acts for keeps its name (clients know it by it)")
            if await uow.vens.by_name(name) is not None:
                raise Conflict(f"a VEN named {name!r} exists already")
            ven = dataclasses.replace(ven, ven_name=name)
            await uow.vens.save(ven)
        old = await uow.oa3.get(ObjectType.VEN, ven_id)
        kept = {} if old is None or not caller.is_ven else {"targets": old.body.get("targets")}
        new_body = {**_meta_body(body), **{k: v for k, v in kept.items() if v is not None}}
        client_id = body.get("clientID") or (old.client_id if old else None) or caller.client_id
        meta = Oa3Object(
            ObjectType.VEN,
            ven_id,
            old.created_at if old else now,
            now,
            new_body,
            client_id=client_id,
            ven_id=ven_id,
        )
        if old is None:
            uow.oa3.add(meta)
        else:
            await uow.oa3.save(meta)
        record_change(uow, ObjectType.VEN, Operation.UPDATE, ven_id, now)
        await uow.commit()
        return await ven_json(uow, ven, meta)


async def delete_ven(uow: UnitOfWork, caller: Caller, ven_id: str, now: datetime) -> dict[str, Any]:
    """Forget the VEN and all that is stored of it (2.0b state, reports, resources)."""
    caller.require(Scope.WRITE_VENS)
    async with uow:
        ven = await _mine(uow, caller, ven_id)
        shown = await ven_json(uow, ven, await uow.oa3.get(ObjectType.VEN, ven_id))
        await uow.vens.remove(ven_id)
        gone = RenderedObject(shown, None, (ven_id,))
        record_change(uow, ObjectType.VEN, Operation.DELETE, ven_id, now, deleted=gone)
        await uow.commit()
    return shown


# ---- resources -------------------------------------------------------------------------------


def resource_json(obj: Oa3Object) -> dict[str, Any]:
    return as_json(obj)


async def list_resources(
    uow: UnitOfWork,
    caller: Caller,
    resource_name: str | None,
    ven_id: str | None,
    targets: Sequence[str] | None,
    page: Page,
) -> list[dict[str, Any]]:
    caller.require(Scope.READ_VEN_OBJECTS)
    async with uow:
        if caller.is_ven:
            mine = await own_ven(uow, caller)
            if mine is None or (ven_id is not None and ven_id != mine.ven_id):
                return []
            ven_id = mine.ven_id
        found = [
            r
            for r in await uow.oa3.find(ObjectType.RESOURCE, ven_id=ven_id)
            if (resource_name is None or r.name == resource_name)
            and matches_targets(targets_of(r.body), targets)
        ]
    return [resource_json(r) for r in page.of(found)]


async def _resource(uow: UnitOfWork, caller: Caller, resource_id: str) -> Oa3Object:
    found = await uow.oa3.get(ObjectType.RESOURCE, resource_id)
    if found is None or found.ven_id is None:
        raise NotFound("resource", resource_id)
    await _mine(uow, caller, found.ven_id)
    return found


async def get_resource(uow: UnitOfWork, caller: Caller, resource_id: str) -> dict[str, Any]:
    caller.require(Scope.READ_VEN_OBJECTS)
    async with uow:
        return resource_json(await _resource(uow, caller, resource_id))


def _resource_body(
    caller: Caller, body: dict[str, Any], ven: VenRecord, old: Oa3Object | None
) -> dict[str, Any]:
    out = {k: v for k, v in body.items() if k in ("resourceName", "venID", "targets", "attributes")}
    out["clientID"] = body.get("clientID") or (old.body.get("clientID") if old else None) or caller.client_id
    if caller.is_ven and old is not None and "targets" in old.body:
        out["targets"] = old.body["targets"]  # a BL's to give
    out["venID"] = ven.ven_id
    return out


async def _resource_ven(uow: UnitOfWork, caller: Caller, body: dict[str, Any]) -> VenRecord:
    if caller.is_ven and body["objectType"] != "VEN_RESOURCE_REQUEST":
        raise Unauthorized("a VEN client sends a VEN_RESOURCE_REQUEST")
    ven = await uow.vens.get(body["venID"])
    if ven is None:
        raise InvalidInput("venID", f"no VEN {body['venID']!r}")
    if caller.is_ven:
        mine = await own_ven(uow, caller)
        if mine is None or mine.ven_id != ven.ven_id:
            raise Unauthorized("a VEN client makes resources of its own VEN only")
    return ven


async def _check_resource_name(uow: UnitOfWork, ven_id: str, name: str, resource_id: str | None) -> None:
    for other in await uow.oa3.find(ObjectType.RESOURCE, unique_key=f"{ven_id}/{name}"):
        if other.object_id != resource_id:
            raise Conflict(f"the VEN has a resource named {name!r} already ({other.object_id})")


async def create_resource(
    uow: UnitOfWork, caller: Caller, body: dict[str, Any], now: datetime
) -> dict[str, Any]:
    caller.require(Scope.WRITE_VENS)
    async with uow:
        ven = await _resource_ven(uow, caller, body)
        name = body["resourceName"]
        await _check_resource_name(uow, ven.ven_id, name, None)
        stored = _resource_body(caller, body, ven, None)
        obj = Oa3Object(
            ObjectType.RESOURCE,
            new_id(),
            now,
            now,
            stored,
            client_id=stored["clientID"],
            ven_id=ven.ven_id,
            name=name,
            unique_key=f"{ven.ven_id}/{name}",
        )
        uow.oa3.add(obj)
        record_change(uow, ObjectType.RESOURCE, Operation.CREATE, obj.object_id, now)
        await uow.commit()
    return resource_json(obj)


async def update_resource(
    uow: UnitOfWork, caller: Caller, resource_id: str, body: dict[str, Any], now: datetime
) -> dict[str, Any]:
    caller.require(Scope.WRITE_VENS)
    async with uow:
        old = await _resource(uow, caller, resource_id)
        ven = await _resource_ven(uow, caller, body)
        name = body["resourceName"]
        await _check_resource_name(uow, ven.ven_id, name, resource_id)
        stored = _resource_body(caller, body, ven, old)
        obj = dataclasses.replace(
            old,
            modified_at=now,
            body=stored,
            client_id=stored["clientID"],
            ven_id=ven.ven_id,
            name=name,
            unique_key=f"{ven.ven_id}/{name}",
        )
        await uow.oa3.save(obj)
        record_change(uow, ObjectType.RESOURCE, Operation.UPDATE, resource_id, now)
        await uow.commit()
    return resource_json(obj)


async def delete_resource(uow: UnitOfWork, caller: Caller, resource_id: str, now: datetime) -> dict[str, Any]:
    caller.require(Scope.WRITE_VENS)
    async with uow:
        obj = await _resource(uow, caller, resource_id)
        await uow.oa3.remove(ObjectType.RESOURCE, resource_id)
        gone = RenderedObject(resource_json(obj), None, (obj.ven_id,) if obj.ven_id else ())
        record_change(uow, ObjectType.RESOURCE, Operation.DELETE, resource_id, now, deleted=gone)
        await uow.commit()
    return resource_json(obj)
