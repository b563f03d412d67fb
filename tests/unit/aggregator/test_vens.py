"""VEN administration (aggregator/vens.py) on in-memory ports: no database, no HTTP.

The REST routes over these (status codes, JSON, roles) are tested at the edge, in
tests/integration/vtn_api/test_api_routes.py; the messages they queue going out over OpenADR
in tests/integration/vtn_openadr/test_registration.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from fakes import FakeNotifier, FakeRecentPolls, FakeUnitOfWork

from aggregator import outbox
from aggregator.errors import Conflict, InvalidInput, NotFound
from aggregator.records import OutboxRecord, VenRecord
from aggregator.vens import (
    UNCHANGED,
    NewVen,
    VenInfo,
    cancel_ven_registration,
    get_ven,
    list_vens,
    provision_ven,
    request_reregistration,
    update_ven,
)

T0 = datetime(2030, 1, 1, 10, tzinfo=UTC)
POLL_S = 10
VEN = VenRecord(ven_id="ven-1", ven_name="home 1", site_id="site-1", created_at=T0)
REGISTERED = replace(VEN, registration_id="reg-1", registered_at=T0)
NO_POLLS = FakeRecentPolls()
QueueMessage = Callable[[FakeUnitOfWork, str, datetime, FakeNotifier], Awaitable[None]]


async def test_a_provisioned_ven_is_stored_with_a_new_id_and_not_registered() -> None:
    uow = FakeUnitOfWork()

    info = await provision_ven(uow, NewVen(" home 1 ", "site-1", "ab:cd", "optional"), T0)

    assert uow.stored.vens == {
        info.ven_id: VenRecord(
            ven_id=info.ven_id,
            ven_name="home 1",
            site_id="site-1",
            created_at=T0,
            fingerprint="ab:cd",
            xml_signatures="optional",
        )
    }
    assert info == VenInfo(
        ven_id=info.ven_id,
        ven_name="home 1",
        site_id="site-1",
        fingerprint="ab:cd",
        registration_id=None,
        registered=False,
        registered_at=None,
        last_poll_at=None,
        online=False,
        xml_signatures="optional",
    )
    second = await provision_ven(uow, NewVen("home 2", "site-1"), T0)
    assert second.ven_id != info.ven_id and len(second.ven_id) == 32


async def test_a_taken_name_is_a_conflict_and_nothing_is_stored() -> None:
    uow = FakeUnitOfWork(vens=[VEN])

    with pytest.raises(Conflict, match="'home 1' already exists"):
        await provision_ven(uow, NewVen("home 1", "site-2"), T0)

    assert list(uow.stored.vens) == ["ven-1"] and not uow.committed


@pytest.mark.parametrize(
    ("new", "field"),
    [
        (NewVen("  ", "site-1"), "ven_name"),
        (NewVen("x" * 129, "site-1"), "ven_name"),
        (NewVen("home", ""), "site_id"),
        (NewVen("home", "site-1", fingerprint=" "), "fingerprint"),
        (NewVen("home", "site-1", xml_signatures="sometimes"), "xml_signatures"),
    ],
)
async def test_a_bad_field_is_invalid_input(new: NewVen, field: str) -> None:
    uow = FakeUnitOfWork()

    with pytest.raises(InvalidInput) as raised:
        await provision_ven(uow, new, T0)

    assert raised.value.field == field and uow.stored.vens == {}


async def test_an_update_changes_only_the_fields_given_and_none_clears() -> None:
    uow = FakeUnitOfWork(vens=[replace(VEN, fingerprint="ab:cd", xml_signatures="required")])

    info = await update_ven(uow, "ven-1", T0, NO_POLLS, xml_signatures=None)
    assert uow.stored.vens["ven-1"] == replace(VEN, fingerprint="ab:cd")
    assert info.fingerprint == "ab:cd" and info.xml_signatures is None

    await update_ven(uow, "ven-1", T0, NO_POLLS, fingerprint=" ef:01 ", xml_signatures=UNCHANGED)
    assert uow.stored.vens["ven-1"] == replace(VEN, fingerprint="ef:01")

    await update_ven(uow, "ven-1", T0, NO_POLLS, fingerprint=None)
    assert uow.stored.vens["ven-1"] == VEN


async def test_an_update_of_an_unknown_ven_or_to_a_bad_value_changes_nothing() -> None:
    uow = FakeUnitOfWork(vens=[VEN])

    with pytest.raises(NotFound):
        await update_ven(uow, "ven-9", T0, NO_POLLS, fingerprint="ab:cd")
    with pytest.raises(InvalidInput):
        await update_ven(uow, "ven-1", T0, NO_POLLS, xml_signatures="sometimes")
    with pytest.raises(InvalidInput):
        await update_ven(uow, "ven-1", T0, NO_POLLS, fingerprint="")

    assert uow.stored.vens == {"ven-1": VEN} and not uow.committed


async def test_a_ven_is_online_until_it_misses_three_polls() -> None:
    polled = replace(REGISTERED, last_poll_at=T0)
    uow = FakeUnitOfWork(vens=[polled])

    on_time = await get_ven(uow, "ven-1", T0 + timedelta(seconds=3 * POLL_S), NO_POLLS, POLL_S)
    late = await get_ven(uow, "ven-1", T0 + timedelta(seconds=3 * POLL_S + 1), NO_POLLS, POLL_S)

    assert on_time.online and on_time.registered and on_time.registration_id == "reg-1"
    assert not late.online and late.last_poll_at == T0


async def test_a_poll_not_yet_written_counts_if_it_is_the_newer() -> None:
    uow = FakeUnitOfWork(vens=[replace(VEN, last_poll_at=T0)])
    later = T0 + timedelta(minutes=5)

    newer = await get_ven(uow, "ven-1", later, FakeRecentPolls({"ven-1": later}), POLL_S)
    older = await get_ven(uow, "ven-1", later, FakeRecentPolls({"ven-1": T0 - timedelta(hours=1)}), POLL_S)

    assert newer.last_poll_at == later and newer.online
    assert older.last_poll_at == T0 and not older.online


async def test_an_unknown_ven_is_not_found() -> None:
    with pytest.raises(NotFound):
        await get_ven(FakeUnitOfWork(vens=[VEN]), "ven-9", T0, NO_POLLS)


async def test_vens_are_listed_oldest_first_each_with_its_polls() -> None:
    newer = replace(VEN, ven_id="ven-0", ven_name="home 0", created_at=T0 + timedelta(days=1))
    uow = FakeUnitOfWork(vens=[newer, VEN])

    listed = await list_vens(uow, T0, FakeRecentPolls({"ven-1": T0}), POLL_S)

    assert [(v.ven_id, v.online) for v in listed] == [("ven-1", True), ("ven-0", False)]


async def test_cancelling_a_registration_queues_the_cancel_and_tells_the_poll_path() -> None:
    uow, notifier = FakeUnitOfWork(vens=[REGISTERED]), FakeNotifier()

    await cancel_ven_registration(uow, "ven-1", T0, notifier)

    assert list(uow.stored.outbox.values()) == [
        OutboxRecord(1, "ven-1", outbox.CANCEL_PARTY_REGISTRATION, {"registration_id": "reg-1"}, T0)
    ]
    assert uow.stored.vens["ven-1"] == REGISTERED  # it ends when the VEN acknowledges
    assert notifier.pending == ["ven-1"]


async def test_cancelling_an_unregistered_ven_queues_nothing() -> None:
    uow, notifier = FakeUnitOfWork(vens=[VEN]), FakeNotifier()

    await cancel_ven_registration(uow, "ven-1", T0, notifier)

    assert uow.stored.outbox == {} and notifier.pending == []


async def test_reregistration_is_requested_through_the_outbox() -> None:
    uow, notifier = FakeUnitOfWork(vens=[REGISTERED]), FakeNotifier()

    await request_reregistration(uow, "ven-1", T0, notifier)

    assert list(uow.stored.outbox.values()) == [
        OutboxRecord(1, "ven-1", outbox.REQUEST_REREGISTRATION, {}, T0)
    ]
    assert notifier.pending == ["ven-1"]


@pytest.mark.parametrize("use_case", [cancel_ven_registration, request_reregistration])
async def test_registration_messages_for_an_unknown_ven_are_not_found(use_case: QueueMessage) -> None:
    uow, notifier = FakeUnitOfWork(vens=[VEN]), FakeNotifier()

    with pytest.raises(NotFound):
        await use_case(uow, "ven-9", T0, notifier)

    assert uow.stored.outbox == {} and notifier.pending == []
