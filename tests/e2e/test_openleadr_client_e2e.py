"""Done when 1 and 2 of issue 2: `flexvpp vtn serve` as a subprocess, an unmodified openleadr client,
the operator REST API in between; then a kill -9 and a restart on the same database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from e2e_support import RestApi, Ven, VtnProcess, event_body, eventually
from openleadr import objects

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


async def telemetry(rest: RestApi, ven_id: str, **params: str) -> list[dict[str, Any]]:
    return await rest.call("GET", f"/vens/{ven_id}/telemetry", params=params)  # type: ignore[no-any-return]


async def create_opt(ven: Ven, event_id: str | None = None, modification_number: int | None = None) -> str:
    start = (datetime.now(UTC) + timedelta(hours=5)).replace(microsecond=0)
    opt_id = await ven.client.create_opt(
        opt_type="optOut",
        opt_reason="x-schedule",
        targets=[objects.Target(resource_id="meter-1")],
        vavailability=objects.Vavailability(
            components=[objects.VavailabilityComponent(dtstart=start, duration=timedelta(hours=1))]
        ),
        event_id=event_id,
        modification_number=modification_number,
    )
    assert opt_id, "the VTN did not acknowledge the oadrCreateOpt"
    return str(opt_id)


# On SQLite: the client is the subject; `vtn serve` on PostgreSQL is the next test's, killed and restarted.
@pytest.mark.db_backends("sqlite")
async def test_an_unmodified_openleadr_client_works_against_flexvpp_vtn_serve(
    rest: RestApi, ven: Ven
) -> None:
    # Registered with the venID the operator provisioned.
    assert ven.client.ven_id == ven.ven_id
    assert ven.client.registration_id
    info = await rest.call("GET", f"/vens/{ven.ven_id}")
    assert info["registered"] and info["registration_id"] == ven.client.registration_id
    await eventually(
        lambda: rest.call("GET", f"/vens/{ven.ven_id}"), lambda v: v["online"], "the VEN polling"
    )

    # TELEMETRY_USAGE values come back through the REST API.
    points = await eventually(
        lambda: telemetry(rest, ven.ven_id), lambda p: len(p) >= 2, "two TELEMETRY_USAGE values"
    )
    assert {p["report_name"] for p in points} == {"TELEMETRY_USAGE"}
    assert {p["r_id"] for p in points} == {"meter-1-power"}
    assert [p["value"] for p in points] == ven.reported[: len(points)]

    # An event created over REST reaches on_event, and the optIn is recorded.
    event = await rest.call("POST", "/events", 201, json=event_body(ven.ven_id))
    event_id = event["event_id"]
    await eventually(lambda: _seen(ven, event_id), lambda s: (0, "far") in s, "the event at the VEN")
    got = await eventually(
        lambda: rest.call("GET", f"/events/{event_id}"),
        lambda e: e["responses"] == {ven.ven_id: "optIn"},
        "the VEN's optIn",
    )
    assert got["modification_number"] == 0

    # A modification and then a cancel reach on_update_event with the modificationNumber raised.
    patched = await rest.call("PATCH", f"/events/{event_id}", json={"priority": 2})
    assert patched["modification_number"] == 1
    await eventually(lambda: _seen(ven, event_id), lambda s: any(m == 1 for m, _ in s), "modification 1")
    await eventually(
        lambda: rest.call("GET", f"/events/{event_id}"),
        lambda e: e["responses"] == {ven.ven_id: "optIn"} and e["modification_number"] == 1,
        "the optIn to modification 1",
    )
    cancelled = await rest.call("DELETE", f"/events/{event_id}")
    assert cancelled["modification_number"] == 2 and cancelled["status"] == "cancelled"
    seen = await eventually(lambda: _seen(ven, event_id), lambda s: (2, "cancelled") in s, "the cancellation")
    assert [m for m, _ in seen] == sorted(m for m, _ in seen)  # never an older modification after a newer

    # An oadrCreateOpt sent by the client is stored.
    opt_id = await create_opt(ven)
    opts = await rest.call("GET", f"/vens/{ven.ven_id}/opts")
    assert [(o["opt_id"], o["opt_type"], o["opt_reason"]) for o in opts] == [(opt_id, "optOut", "x-schedule")]
    assert opts[0]["resource_ids"] == ["meter-1"]
    assert len(opts[0]["windows"]) == 1 and opts[0]["windows"][0]["duration_seconds"] == 3600
    assert ven.sent_count("oadrCreatePartyRegistration") == 1
    assert ven.error_codes() == []  # the VTN never answered the stock client with an error

    # DELETE /vens/{id} cancels the registration on the VEN's next poll.
    accepted = await rest.call("DELETE", f"/vens/{ven.ven_id}", 202)
    assert accepted["ven_id"] == ven.ven_id
    await eventually(lambda: _registration(ven), lambda r: r is None, "the client to drop its registration")
    await eventually(
        lambda: rest.call("GET", f"/vens/{ven.ven_id}"), lambda v: not v["registered"], "the VTN to forget it"
    )
    assert ven.sent_count("oadrCanceledPartyRegistration") == 1


async def test_a_killed_vtn_restarts_on_the_same_database_and_the_client_carries_on(
    rest: RestApi, ven: Ven, vtn: VtnProcess
) -> None:
    # Some state before the crash: report values, an event with an optIn, an opt.
    await eventually(
        lambda: telemetry(rest, ven.ven_id), lambda p: len(p) >= 2, "report values before the kill"
    )
    event_id = (await rest.call("POST", "/events", 201, json=event_body(ven.ven_id)))["event_id"]
    before = await eventually(
        lambda: rest.call("GET", f"/events/{event_id}"),
        lambda e: e["responses"] == {ven.ven_id: "optIn"},
        "the optIn before the kill",
    )
    opt_id = await create_opt(ven)
    registration = (await rest.call("GET", f"/vens/{ven.ven_id}"))["registration_id"]

    vtn.kill()  # mid-stream: the client keeps polling and reporting into the void
    killed_at = datetime.now(UTC)
    await vtn.start()

    # The client polls on without registering again.
    await eventually(
        lambda: rest.call("GET", f"/vens/{ven.ven_id}"),
        lambda v: v["last_poll_at"] is not None and datetime.fromisoformat(v["last_poll_at"]) > killed_at,
        "a poll after the restart",
    )
    # Report values keep landing.
    await eventually(
        lambda: telemetry(rest, ven.ven_id, since=killed_at.isoformat()),
        lambda p: len(p) >= 2,
        "report values after the restart",
    )
    # Events, responses, registrations and opts are intact.
    after = await rest.call("GET", f"/events/{event_id}")
    assert {k: after[k] for k in ("modification_number", "responses", "intervals", "status")} == {
        k: before[k] for k in ("modification_number", "responses", "intervals", "status")
    }
    assert [o["opt_id"] for o in await rest.call("GET", f"/vens/{ven.ven_id}/opts")] == [opt_id]
    assert (await rest.call("GET", f"/vens/{ven.ven_id}"))["registration_id"] == registration
    assert ven.client.registration_id == registration
    assert ven.sent_count("oadrCreatePartyRegistration") == 1
    assert ven.sent_count("oadrQueryRegistration") == 1

    # The restarted VTN still reaches the client: a modification arrives and is answered.
    await rest.call("PATCH", f"/events/{event_id}", json={"priority": 3})
    await eventually(lambda: _seen(ven, event_id), lambda s: any(m == 1 for m, _ in s), "modification 1")
    await eventually(
        lambda: rest.call("GET", f"/events/{event_id}"),
        lambda e: e["modification_number"] == 1 and e["responses"] == {ven.ven_id: "optIn"},
        "the optIn after the restart",
    )
    assert ven.error_codes() == []


async def _registration(ven: Ven) -> str | None:
    return ven.client.registration_id  # type: ignore[no-any-return]


async def _seen(ven: Ven, event_id: str) -> list[tuple[int, str]]:
    return ven.seen(event_id)
