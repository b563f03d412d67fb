"""OpenADR 3.1 subscriptions: stored per client; the notifications they ask for are sent by
vtn/openadr3/notifiers (webhooks and MQTT)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from aggregator.errors import InvalidInput, NotFound
from aggregator.ids import new_id
from aggregator.openadr3_common import Caller, Page, as_json
from aggregator.openadr3_notification_records import Operation, RenderedObject
from aggregator.openadr3_notifications import record_change
from aggregator.openadr3_records import Oa3Object, ObjectType, Scope
from aggregator.uow import UnitOfWork


def _subscribes_to(sub: Oa3Object, objects: list[str]) -> bool:
    kinds = {o for op in sub.body.get("objectOperations", []) for o in op.get("objects", [])}
    return not objects or bool(kinds & set(objects))


async def list_subscriptions(
    uow: UnitOfWork,
    caller: Caller,
    program_id: str | None,
    client_name: str | None,
    objects: list[str],
    page: Page,
) -> list[dict[str, Any]]:
    caller.require(Scope.READ_VEN_OBJECTS)
    async with uow:
        found = await uow.oa3.find(
            ObjectType.SUBSCRIPTION,
            program_id=program_id,
            client_id=caller.client_id if caller.is_ven else None,
        )
    found = [
        s
        for s in found
        if (client_name is None or s.body.get("clientName") == client_name) and _subscribes_to(s, objects)
    ]
    return [as_json(s) for s in page.of(found)]


async def _subscription(uow: UnitOfWork, caller: Caller, subscription_id: str) -> Oa3Object:
    found = await uow.oa3.get(ObjectType.SUBSCRIPTION, subscription_id)
    if found is None or (caller.is_ven and found.client_id != caller.client_id):
        raise NotFound("subscription", subscription_id)
    return found


async def get_subscription(uow: UnitOfWork, caller: Caller, subscription_id: str) -> dict[str, Any]:
    caller.require(Scope.READ_VEN_OBJECTS)
    async with uow:
        return as_json(await _subscription(uow, caller, subscription_id))


async def _check_program(uow: UnitOfWork, body: dict[str, Any]) -> None:
    program_id = body.get("programID")
    if program_id is not None and await uow.oa3.get(ObjectType.PROGRAM, program_id) is None:
        raise InvalidInput("programID", f"no program {program_id!r}")


async def create_subscription(
    uow: UnitOfWork, caller: Caller, body: dict[str, Any], now: datetime
) -> dict[str, Any]:
    caller.require(Scope.WRITE_SUBSCRIPTIONS)
    async with uow:
        await _check_program(uow, body)
        obj = Oa3Object(
            ObjectType.SUBSCRIPTION,
            new_id(),
            now,
            now,
            {**body, "clientID": caller.client_id},
            client_id=caller.client_id,
            program_id=body.get("programID"),
        )
        uow.oa3.add(obj)
        record_change(uow, ObjectType.SUBSCRIPTION, Operation.CREATE, obj.object_id, now)
        await uow.commit()
    return as_json(obj)


async def update_subscription(
    uow: UnitOfWork, caller: Caller, subscription_id: str, body: dict[str, Any], now: datetime
) -> dict[str, Any]:
    caller.require(Scope.WRITE_SUBSCRIPTIONS)
    async with uow:
        old = await _subscription(uow, caller, subscription_id)
        await _check_program(uow, body)
        obj = dataclasses.replace(
            old,
            modified_at=now,
            body={**body, "clientID": old.client_id or caller.client_id},
            program_id=body.get("programID"),
        )
        await uow.oa3.save(obj)
        record_change(uow, ObjectType.SUBSCRIPTION, Operation.UPDATE, subscription_id, now)
        await uow.commit()
    return as_json(obj)


async def delete_subscription(
    uow: UnitOfWork, caller: Caller, subscription_id: str, now: datetime
) -> dict[str, Any]:
    caller.require(Scope.WRITE_SUBSCRIPTIONS)
    async with uow:
        obj = await _subscription(uow, caller, subscription_id)
        await uow.oa3.remove(ObjectType.SUBSCRIPTION, subscription_id)
        gone = RenderedObject(as_json(obj), obj.program_id)
        record_change(uow, ObjectType.SUBSCRIPTION, Operation.DELETE, subscription_id, now, deleted=gone)
        await uow.commit()
    return as_json(obj)
