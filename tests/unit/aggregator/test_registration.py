"""EiRegisterParty use cases (aggregator/registration.py) on in-memory ports: no database, no XML.

What the VEN gets back over OpenADR (the reply, its code for each error) is tested at the edge,
in tests/integration/vtn_openadr/test_registration.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from fakes import FakeNotifier, FakeUnitOfWork

from aggregator import outbox
from aggregator.errors import InvalidInput, NotFound, Unauthorized
from aggregator.records import OutboxRecord, ReportRequestRecord, VenRecord
from aggregator.registration import (
    Registration,
    RegistrationRequest,
    cancel_party_registration,
    check_registered,
    register_party,
)

T0 = datetime(2030, 1, 1, 10, tzinfo=UTC)
LATER = T0 + timedelta(hours=1)
VEN = VenRecord(ven_id="ven-1", ven_name="home 1", site_id="site-1", created_at=T0, fingerprint="ab:cd")
REGISTERED = replace(VEN, registration_id="reg-1", registered_at=T0, profile_name="2.0b")
BY_NAME = RegistrationRequest(ven_name="home 1", tls_fingerprint="ab:cd")


def _request(ven_id: str = "ven-1", report_request_id: str = "rr-1") -> ReportRequestRecord:
    return ReportRequestRecord(report_request_id, ven_id, "spec-1", "TELEMETRY_USAGE", (), 60, 60, T0)


async def test_a_provisioned_ven_registers_by_name_and_gets_the_metadata_report() -> None:
    uow, notifier = FakeUnitOfWork(vens=[VEN]), FakeNotifier()

    result = await register_party(uow, replace(BY_NAME, report_only=True), T0, notifier)

    registration_id = result.registration_id
    assert result == Registration("ven-1", registration_id) and len(registration_id) == 32
    assert uow.stored.vens["ven-1"] == replace(
        VEN,
        registration_id=registration_id,
        registered_at=T0,
        profile_name="2.0b",
        transport_name="simpleHttp",
        report_only=True,
    )
    assert list(uow.stored.outbox.values()) == [OutboxRecord(1, "ven-1", outbox.REGISTER_REPORT, {}, T0)]
    assert notifier.registrations == {"ven-1": registration_id} and notifier.pending == ["ven-1"]


async def test_a_ven_registers_by_its_id_and_again_under_its_registration() -> None:
    uow, notifier = FakeUnitOfWork(vens=[REGISTERED]), FakeNotifier()
    again = RegistrationRequest(ven_name=None, ven_id="ven-1", registration_id="reg-1")

    result = await register_party(uow, again, LATER, notifier)

    assert result == Registration("ven-1", "reg-1")
    assert uow.stored.vens["ven-1"].registered_at == LATER
    assert notifier.registrations == {"ven-1": "reg-1"}


async def test_registering_again_without_the_registration_gives_a_new_one() -> None:
    uow, notifier = FakeUnitOfWork(vens=[REGISTERED]), FakeNotifier()
    again = RegistrationRequest(ven_name="home 1", ven_id="ven-1")

    result = await register_party(uow, again, LATER, notifier)

    assert result.registration_id != "reg-1"
    assert uow.stored.vens["ven-1"].registration_id == result.registration_id


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (RegistrationRequest(ven_name="stranger"), Unauthorized),  # not provisioned
        (RegistrationRequest(ven_name=None), Unauthorized),  # names nobody
        (RegistrationRequest(ven_name="home 2", ven_id="ven-1"), Unauthorized),  # another VEN's ID
        (RegistrationRequest(ven_name="home 1", tls_fingerprint="ff:ff"), Unauthorized),  # certificate
        (RegistrationRequest(ven_name=None, ven_id="VEN-1"), NotFound),  # IDs are case-sensitive
        (RegistrationRequest(ven_name="home 1", registration_id="reg-9"), NotFound),  # not its registration
        (replace(BY_NAME, profile_name="2.0a"), InvalidInput),
        (replace(BY_NAME, transport_name="xmpp"), InvalidInput),
        (replace(BY_NAME, http_pull_model=False), InvalidInput),
    ],
)
async def test_a_refused_registration_changes_nothing(
    request_: RegistrationRequest, error: type[Exception]
) -> None:
    uow, notifier = FakeUnitOfWork(vens=[VEN]), FakeNotifier()

    with pytest.raises(error):
        await register_party(uow, request_, T0, notifier)

    assert uow.stored.vens == {"ven-1": VEN} and uow.stored.outbox == {}
    assert notifier == FakeNotifier()


async def test_a_ven_without_a_provisioned_fingerprint_registers_with_any_certificate() -> None:
    uow = FakeUnitOfWork(vens=[replace(VEN, fingerprint=None)])

    result = await register_party(uow, BY_NAME, T0, FakeNotifier())

    assert uow.stored.vens["ven-1"].registration_id == result.registration_id


async def test_a_ven_cancelling_its_registration_ends_what_was_tied_to_it() -> None:
    other_vens = _request("ven-2", "rr-2")
    pending = OutboxRecord(1, "ven-1", outbox.DISTRIBUTE_EVENT, {"cancelled_event_ids": []}, T0)
    delivered = OutboxRecord(2, "ven-1", outbox.REGISTER_REPORT, {}, T0, delivered_at=T0)
    uow = FakeUnitOfWork(
        vens=[REGISTERED], outbox=[pending, delivered], report_requests=[_request(), other_vens]
    )
    notifier = FakeNotifier()

    assert await cancel_party_registration(uow, "ven-1", "reg-1", LATER, notifier) == "reg-1"

    assert uow.stored.vens["ven-1"] == replace(REGISTERED, registration_id=None, registered_at=None)
    assert uow.stored.report_requests == {
        "rr-1": replace(_request(), cancelled_at=LATER),
        "rr-2": other_vens,
    }
    assert uow.stored.outbox == {2: delivered}
    assert notifier.registrations == {"ven-1": None}


@pytest.mark.parametrize(
    ("ven", "ven_id", "registration_id"),
    [
        (REGISTERED, "ven-9", "reg-1"),  # unknown VEN
        (REGISTERED, "ven-1", "reg-9"),  # not its registration
        (REGISTERED, "ven-1", None),
        (VEN, "ven-1", None),  # not registered
    ],
)
async def test_a_cancel_of_a_registration_the_ven_does_not_hold_is_not_found(
    ven: VenRecord, ven_id: str, registration_id: str | None
) -> None:
    uow, notifier = FakeUnitOfWork(vens=[ven]), FakeNotifier()

    with pytest.raises(NotFound):
        await cancel_party_registration(uow, ven_id, registration_id, LATER, notifier)

    assert uow.stored.vens == {"ven-1": ven} and notifier == FakeNotifier()


async def test_a_registered_ven_passes_the_check_and_the_poll_path_learns_its_registration() -> None:
    notifier = FakeNotifier()

    assert await check_registered(FakeUnitOfWork(vens=[REGISTERED]), "ven-1", notifier) == "reg-1"

    assert notifier.registrations == {"ven-1": "reg-1"}


async def test_the_check_refuses_unknown_and_unregistered_vens() -> None:
    uow, notifier = FakeUnitOfWork(vens=[VEN]), FakeNotifier()

    with pytest.raises(NotFound):
        await check_registered(uow, "ven-9", notifier)
    with pytest.raises(Unauthorized):
        await check_registered(uow, "ven-1", notifier)

    assert notifier == FakeNotifier()
