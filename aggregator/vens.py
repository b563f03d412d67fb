"""VEN administration: provisioning, authentication settings, what operators see of each VEN, and
the VTN-initiated registration messages (cancel, request re-registration).

How a VEN registers over OpenADR is aggregator/registration.py.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from aggregator import outbox
from aggregator.errors import Conflict, InvalidInput, NotFound
from aggregator.ids import new_id
from aggregator.openadr3_notification_records import Operation
from aggregator.openadr3_notifications import record_change
from aggregator.openadr3_records import ObjectType
from aggregator.ports import PollNotifier, RecentPolls
from aggregator.records import VenRecord
from aggregator.uow import UnitOfWork

DEFAULT_POLL_INTERVAL_SECONDS = 10
SIGNATURE_POLICIES = ("required", "optional", "off")  # vens.xml_signatures (vtn/openadr/signature.py)
ONLINE_POLL_INTERVALS = 3  # a VEN that missed three polls in a row counts as offline
NAME_MAX_LENGTH = 128  # ven_name, site_id, fingerprint: the columns' width


@dataclass(frozen=True, slots=True)
class NewVen:
    """A VEN an operator provisions before it registers."""

    ven_name: str
    site_id: str
    fingerprint: str | None = None  # of its client certificate; None: no certificate required
    xml_signatures: str | None = None  # required | optional | off; None: the VTN's setting


@dataclass(frozen=True, slots=True)
class VenInfo:
    ven_id: str
    ven_name: str
    site_id: str
    fingerprint: str | None
    registration_id: str | None
    registered: bool
    registered_at: datetime | None
    last_poll_at: datetime | None
    online: bool  # polled within 3 poll intervals
    xml_signatures: str | None = None  # required | optional | off; None: the VTN's setting


def ven_info(
    ven: VenRecord, now: datetime, poll_interval_seconds: int, unsaved_poll: datetime | None
) -> VenInfo:
    """`unsaved_poll`: a poll seen after the stored `last_poll_at` (poll times are written in batches)."""
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


def _check_name(field: str, value: str, max_length: int = NAME_MAX_LENGTH) -> str:
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


async def provision_ven(uow: UnitOfWork, new: NewVen, now: datetime) -> VenInfo:
    """Pre-provision a VEN; its venID is fixed now. Conflict if a VEN has this ven_name.

    Two requests for one name at once both pass the check; the second fails at commit on the
    table's unique name (the REST edge answers that with the same Conflict).
    """
    ven_name = _check_name("ven_name", new.ven_name)
    site_id = _check_name("site_id", new.site_id)
    fingerprint = None if new.fingerprint is None else _check_name("fingerprint", new.fingerprint)
    xml_signatures = _check_signatures(new.xml_signatures)
    async with uow:
        if await uow.vens.by_name(ven_name) is not None:
            raise Conflict(f"a VEN named {ven_name!r} already exists")
        ven = VenRecord(
            ven_id=new_id(),
            ven_name=ven_name,
            site_id=site_id,
            created_at=now,
            fingerprint=fingerprint,
            xml_signatures=xml_signatures,
        )
        uow.vens.add(ven)
        record_change(uow, ObjectType.VEN, Operation.CREATE, ven.ven_id, now)
        await uow.commit()
    return ven_info(ven, now, DEFAULT_POLL_INTERVAL_SECONDS, None)


UNCHANGED: Any = object()  # update_ven: keep the field as it is (None clears it)


async def update_ven(
    uow: UnitOfWork,
    ven_id: str,
    now: datetime,
    recent_polls: RecentPolls,
    fingerprint: str | None = UNCHANGED,
    xml_signatures: str | None = UNCHANGED,
    poll_interval_seconds: int = DEFAULT_POLL_INTERVAL_SECONDS,
) -> VenInfo:
    """Change how a VEN authenticates (None clears; UNCHANGED keeps). NotFound if no such VEN.

    The OpenADR side reads these through a cache refreshed every 10 s (vtn/tls.py).
    """
    if fingerprint is not UNCHANGED and fingerprint is not None:
        fingerprint = _check_name("fingerprint", fingerprint)
    if xml_signatures is not UNCHANGED:
        xml_signatures = _check_signatures(xml_signatures)
    async with uow:
        ven = await uow.vens.get(ven_id)
        if ven is None:
            raise NotFound("VEN", ven_id)
        if fingerprint is not UNCHANGED:
            ven = replace(ven, fingerprint=fingerprint)
        if xml_signatures is not UNCHANGED:
            ven = replace(ven, xml_signatures=xml_signatures)
        await uow.vens.save(ven)
        record_change(uow, ObjectType.VEN, Operation.UPDATE, ven_id, now)
        await uow.commit()
    return ven_info(ven, now, poll_interval_seconds, recent_polls.last_poll(ven_id))


async def list_vens(
    uow: UnitOfWork,
    now: datetime,
    recent_polls: RecentPolls,
    poll_interval_seconds: int = DEFAULT_POLL_INTERVAL_SECONDS,
) -> list[VenInfo]:
    """Every VEN, oldest first."""
    async with uow:
        vens = await uow.vens.all()
    return [ven_info(ven, now, poll_interval_seconds, recent_polls.last_poll(ven.ven_id)) for ven in vens]


async def get_ven(
    uow: UnitOfWork,
    ven_id: str,
    now: datetime,
    recent_polls: RecentPolls,
    poll_interval_seconds: int = DEFAULT_POLL_INTERVAL_SECONDS,
) -> VenInfo:
    """NotFound if no such VEN."""
    async with uow:
        ven = await uow.vens.get(ven_id)
    if ven is None:
        raise NotFound("VEN", ven_id)
    return ven_info(ven, now, poll_interval_seconds, recent_polls.last_poll(ven_id))


async def cancel_ven_registration(
    uow: UnitOfWork, ven_id: str, now: datetime, notifier: PollNotifier
) -> None:
    """Queue oadrCancelPartyRegistration for the VEN's next poll. NotFound if no such VEN.

    The registration itself ends when the VEN acknowledges the message
    (aggregator/acknowledgement.py). A VEN that is not registered gets nothing queued.
    """
    async with uow:
        ven = await uow.vens.get(ven_id)
        if ven is None:
            raise NotFound("VEN", ven_id)
        if ven.registration_id is None:
            return
        uow.outbox.enqueue(
            ven_id, outbox.CANCEL_PARTY_REGISTRATION, {"registration_id": ven.registration_id}, now
        )
        await uow.commit()
    notifier.mark_pending([ven_id])


async def request_reregistration(uow: UnitOfWork, ven_id: str, now: datetime, notifier: PollNotifier) -> None:
    """Queue oadrRequestReregistration for the VEN's next poll. NotFound if no such VEN."""
    async with uow:
        if await uow.vens.get(ven_id) is None:
            raise NotFound("VEN", ven_id)
        uow.outbox.enqueue(ven_id, outbox.REQUEST_REREGISTRATION, {}, now)
        await uow.commit()
    notifier.mark_pending([ven_id])
