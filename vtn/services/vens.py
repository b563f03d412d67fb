"""VEN provisioning and registration state."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from aggregator import outbox
from aggregator.records import VenRecord
from vtn.db.errors import DuplicateKey
from vtn.db.uow import Sessions, UnitOfWork
from vtn.errors import Conflict, InvalidInput, NotFound
from vtn.services.poll_cache import cache_for, notify_pending
from vtn.services.types import VenInfo

DEFAULT_POLL_INTERVAL_SECONDS = 10
SIGNATURE_POLICIES = ("required", "optional", "off")  # vens.xml_signatures (vtn/openadr/signature.py)
ONLINE_POLL_INTERVALS = 3  # a VEN that missed three polls in a row counts as offline


def new_id() -> str:
    return uuid.uuid4().hex


def ven_info(
    ven: VenRecord, now: datetime, poll_interval_seconds: int, unsaved_poll: datetime | None
) -> VenInfo:
    last_poll = ven.last_poll_at
    if unsaved_poll is not None and (last_poll is None or unsaved_poll > last_poll):
        last_poll = unsaved_poll
    window = timedelta(seconds=ONLINE_POLL_INTERVALS * poll_interval_seconds)
    return VenInfo(
        ven_id=ven.ven_id,
        ven_name=ven.ven_name,
        site_id=ven.site_id,
        fingerprint=ven.fingerprint,
        registration_id=ven.registration_id,
        registered=ven.registration_id is not None,
        registered_at=ven.registered_at,
        last_poll_at=last_poll,
        online=last_poll is not None and now - last_poll <= window,
        xml_signatures=ven.xml_signatures,
    )


def _check_name(field: str, value: str, max_length: int) -> str:
    value = value.strip() if isinstance(value, str) else value
    if not isinstance(value, str) or not value:
        raise InvalidInput(field, "must be a non-empty string")
    if len(value) > max_length:
        raise InvalidInput(field, f"must be at most {max_length} characters")
    return value


def _check_signatures(value: str | None) -> str | None:
    if value is not None and value not in SIGNATURE_POLICIES:
        raise InvalidInput("xml_signatures", f"must be one of {', '.join(SIGNATURE_POLICIES)} (or null)")
    return value


async def provision_ven(
    sessions: Sessions,
    ven_name: str,
    site_id: str,
    fingerprint: str | None = None,
    xml_signatures: str | None = None,
) -> VenInfo:
    """Pre-provision a VEN; its venID is fixed now. Conflict if ven_name exists.

    `xml_signatures` (required | optional | off) is this VEN's signature policy; None follows
    the VTN's `xml_signatures` setting.
    """
    ven_name = _check_name("ven_name", ven_name, 128)
    site_id = _check_name("site_id", site_id, 128)
    if fingerprint is not None:
        fingerprint = _check_name("fingerprint", fingerprint, 128)
    xml_signatures = _check_signatures(xml_signatures)
    async with UnitOfWork(sessions) as uow:
        if await uow.vens.by_name(ven_name) is not None:
            raise Conflict(f"a VEN named {ven_name!r} already exists")
        ven = VenRecord(
            ven_id=new_id(),
            ven_name=ven_name,
            site_id=site_id,
            created_at=datetime.now(UTC),
            fingerprint=fingerprint,
            xml_signatures=xml_signatures,
        )
        uow.vens.add(ven)
        try:
            await uow.commit()
        except DuplicateKey as err:  # a concurrent request took the name
            raise Conflict(f"a VEN named {ven_name!r} already exists") from err
    return ven_info(ven, ven.created_at, DEFAULT_POLL_INTERVAL_SECONDS, None)


UNCHANGED: Any = object()


async def update_ven(
    sessions: Sessions,
    ven_id: str,
    now: datetime,
    fingerprint: str | None = UNCHANGED,
    xml_signatures: str | None = UNCHANGED,
    poll_interval_seconds: int = DEFAULT_POLL_INTERVAL_SECONDS,
) -> VenInfo:
    """Change how a VEN authenticates (None clears; UNCHANGED keeps). NotFound if no such VEN.

    The OpenADR side reads these through a cache refreshed every 10 s (vtn/tls.py).
    """
    if fingerprint is not UNCHANGED and fingerprint is not None:
        fingerprint = _check_name("fingerprint", fingerprint, 128)
    if xml_signatures is not UNCHANGED:
        xml_signatures = _check_signatures(xml_signatures)
    cache = cache_for(sessions)
    async with UnitOfWork(sessions) as uow:
        ven = await uow.vens.get(ven_id)
        if ven is None:
            raise NotFound("VEN", ven_id)
        if fingerprint is not UNCHANGED:
            ven = replace(ven, fingerprint=fingerprint)
        if xml_signatures is not UNCHANGED:
            ven = replace(ven, xml_signatures=xml_signatures)
        await uow.vens.save(ven)
        await uow.commit()
    return ven_info(ven, now, poll_interval_seconds, cache.last_poll(ven_id) if cache else None)


async def list_vens(
    sessions: Sessions, now: datetime, poll_interval_seconds: int = DEFAULT_POLL_INTERVAL_SECONDS
) -> list[VenInfo]:
    cache = cache_for(sessions)
    async with UnitOfWork(sessions) as uow:
        vens = await uow.vens.all()
    return [
        ven_info(ven, now, poll_interval_seconds, cache.last_poll(ven.ven_id) if cache else None)
        for ven in vens
    ]


async def get_ven(
    sessions: Sessions, ven_id: str, now: datetime, poll_interval_seconds: int = DEFAULT_POLL_INTERVAL_SECONDS
) -> VenInfo:
    """NotFound if no such VEN."""
    cache = cache_for(sessions)
    async with UnitOfWork(sessions) as uow:
        ven = await uow.vens.get(ven_id)
    if ven is None:
        raise NotFound("VEN", ven_id)
    return ven_info(ven, now, poll_interval_seconds, cache.last_poll(ven_id) if cache else None)


async def cancel_ven_registration(sessions: Sessions, ven_id: str, now: datetime | None = None) -> None:
    """Queue oadrCancelPartyRegistration for the VEN's next poll. NotFound if no such VEN.

    The registration itself ends when the message is delivered (see services.registration).
    A VEN that is not registered gets nothing queued.
    """
    async with UnitOfWork(sessions) as uow:
        ven = await uow.vens.get(ven_id)
        if ven is None:
            raise NotFound("VEN", ven_id)
        if ven.registration_id is None:
            return
        uow.outbox.enqueue(
            ven_id,
            outbox.CANCEL_PARTY_REGISTRATION,
            {"registration_id": ven.registration_id},
            now or datetime.now(UTC),
        )
        await uow.commit()
    notify_pending(sessions, [ven_id])


async def request_reregistration(sessions: Sessions, ven_id: str, now: datetime) -> None:
    """Queue oadrRequestReregistration for the VEN's next poll. NotFound if no such VEN."""
    async with UnitOfWork(sessions) as uow:
        if await uow.vens.get(ven_id) is None:
            raise NotFound("VEN", ven_id)
        uow.outbox.enqueue(ven_id, outbox.REQUEST_REREGISTRATION, {}, now)
        await uow.commit()
    notify_pending(sessions, [ven_id])
