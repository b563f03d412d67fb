"""oadrUpdateReport intervals carrying several oadrReportPayloads (issue 10): every payload of
every interval is stored, an rID the report request did not ask for is 452 naming it (nothing
of the message stored), and a non-numeric payload beside a float one never costs the float.

The stock openleadr client sends one payload per interval, so these messages are built with its
templates and then given their extra payloads by hand (the XSD allows any number)."""

from __future__ import annotations

from datetime import timedelta

from lxml import etree
from openleadr.messaging import create_message

from aggregator.reports import IncomingReport, ReportSample, store_report_values
from aggregator.telemetry import query_telemetry
from vtn.api.tokens import insert_token
from vtn.db.uow import UnitOfWork
from vtn.errors import NotFound
from vtn.openadr.xml import NS, schema

from .harness import T0, Reply, Vtn
from .helpers import provision_and_register
from .test_reports import register_reports, requests_of

STATUS = "status"  # a payload given as this is an oadrPayloadResourceStatus, not a payloadFloat
Payload = tuple[str, float | str]  # (rID, value or STATUS)


def _payload(r_id: str, value: float | str) -> etree._Element:
    oadr, ei = "{" + NS["oadr"] + "}", "{" + NS["ei"] + "}"
    payload = etree.Element(f"{oadr}oadrReportPayload", nsmap={"oadr": NS["oadr"], "ei": NS["ei"]})
    etree.SubElement(payload, f"{ei}rID").text = r_id
    if value == STATUS:
        status = etree.SubElement(payload, f"{oadr}oadrPayloadResourceStatus")
        etree.SubElement(status, f"{oadr}oadrOnline").text = "true"
        etree.SubElement(status, f"{oadr}oadrManualOverride").text = "false"
    else:
        number = etree.SubElement(payload, f"{ei}payloadFloat")
        etree.SubElement(number, f"{ei}value").text = repr(float(value))
    return payload


def update_message(ven_id: str, request_id: str, intervals: list[tuple[int, list[Payload]]]) -> bytes:
    """An oadrUpdateReport of TELEMETRY_USAGE whose intervals (offset s, payloads) may each carry
    several oadrReportPayloads; XSD-valid (checked here, so a refusal is the VTN's own)."""
    report = {
        "report_request_id": request_id,
        "report_specifier_id": "spec-usage",
        "report_name": "TELEMETRY_USAGE",
        "report_id": "rep-multi",
        "created_date_time": T0,
        "dtstart": T0,
        "intervals": [
            {
                "dtstart": T0 + timedelta(seconds=offset),
                "duration": timedelta(seconds=60),
                "report_payload": {"r_id": "placeholder", "value": 0.0},
            }
            for offset, _ in intervals
        ],
    }
    message = create_message("oadrUpdateReport", request_id="u-multi", ven_id=ven_id, reports=[report])
    root = etree.fromstring(message.encode())
    elements = root.findall(".//strm:intervals/ei:interval", NS)
    assert len(elements) == len(intervals)
    for element, (_, payloads) in zip(elements, intervals, strict=True):
        placeholder = element.find("oadr:oadrReportPayload", NS)
        element.remove(placeholder)
        for r_id, value in payloads:
            element.append(_payload(r_id, value))
    assert schema().validate(root), schema().error_log.last_error
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


async def send_update(
    vtn: Vtn, ven_id: str, request_id: str, intervals: list[tuple[int, list[Payload]]]
) -> Reply:
    return await vtn.post("EiReport", update_message(ven_id, request_id, intervals))


def description(reply: Reply) -> str:
    return reply.text("ei:eiResponse/ei:responseDescription") or ""


async def stored(vtn: Vtn, ven_id: str) -> list[tuple[int, str, float]]:
    return [
        (int((p.dtstart - T0).total_seconds()), p.r_id, p.value)
        for p in await query_telemetry(UnitOfWork(vtn.sessions), ven_id, None, None)
    ]


async def usage_request(vtn: Vtn, ven_name: str) -> tuple[str, str]:
    """A registered VEN and its TELEMETRY_USAGE request (rIDs `power` and `energy`)."""
    ven_id, _ = await provision_and_register(vtn, ven_name)
    requests = requests_of(await register_reports(vtn, ven_id))
    assert requests["spec-usage"]["r_ids"] == ["power", "energy"]
    return ven_id, requests["spec-usage"]["id"]


THREE_BY_TWO: list[tuple[int, list[Payload]]] = [
    (0, [("power", 1.5), ("energy", 10.0)]),
    (60, [("power", 2.5), ("energy", 10.5)]),
    (120, [("power", 3.5), ("energy", 11.0)]),
]
SIX_ROWS = [
    (0, "energy", 10.0),
    (0, "power", 1.5),
    (60, "energy", 10.5),
    (60, "power", 2.5),
    (120, "energy", 11.0),
    (120, "power", 3.5),
]


async def test_every_payload_of_every_interval_is_stored(vtn: Vtn) -> None:
    """3 intervals x 2 rIDs are 6 rows (before the fix: 3, the second payload of each lost)."""
    ven_id, request_id = await usage_request(vtn, "ven-mp1")
    reply = await send_update(vtn, ven_id, request_id, THREE_BY_TWO)
    assert reply.message_type == "oadrUpdatedReport" and reply.code == 200, reply.body
    assert await stored(vtn, ven_id) == SIX_ROWS
    again = await send_update(vtn, ven_id, request_id, THREE_BY_TWO)  # idempotent per rID
    assert again.code == 200
    assert await stored(vtn, ven_id) == SIX_ROWS

    token = await insert_token(vtn.sessions, "operator")
    rest = await vtn.client.get(
        f"/api/v1/vens/{ven_id}/telemetry", headers={"Authorization": f"Bearer {token}"}
    )
    assert rest.status == 200, await rest.text()
    points = await rest.json()
    assert [(p["dtstart"], p["r_id"], p["value"]) for p in points] == [
        (f"2030-06-01T12:0{offset // 60}:00Z", r_id, value) for offset, r_id, value in SIX_ROWS
    ]
    assert {p["report_request_id"] for p in points} == {request_id}


async def test_a_payload_for_an_unrequested_rid_is_452_naming_it_and_nothing_is_stored(vtn: Vtn) -> None:
    ven_id, request_id = await usage_request(vtn, "ven-mp2")
    # `actual_power` was never offered; `status` was, but under the TELEMETRY_STATUS request
    for intruder in ("actual_power", "status"):
        intervals: list[tuple[int, list[Payload]]] = [
            (0, [("power", 1.5), (intruder, 7.0)]),
            (60, [("power", 2.5)]),
        ]
        reply = await send_update(vtn, ven_id, request_id, intervals)
        assert reply.message_type == "oadrUpdatedReport" and reply.code == 452, reply.body
        assert repr(intruder) in description(reply) and request_id in description(reply)
        assert await stored(vtn, ven_id) == [], "a refused message stores nothing"
    # the same values without the intruder are taken as usual
    reply = await send_update(vtn, ven_id, request_id, [(0, [("power", 1.5)]), (60, [("power", 2.5)])])
    assert reply.code == 200
    assert await stored(vtn, ven_id) == [(0, "power", 1.5), (60, "power", 2.5)]


async def test_a_status_payload_beside_a_float_payload_does_not_cost_the_float(vtn: Vtn) -> None:
    """Before the fix the interval's rID was the first payload's and its value the first float
    anywhere in it: `power`'s value was stored under `energy`."""
    ven_id, request_id = await usage_request(vtn, "ven-mp3")
    intervals: list[tuple[int, list[Payload]]] = [
        (0, [("energy", STATUS), ("power", 1.5)]),
        (60, [("power", 2.5), ("energy", STATUS)]),
        (120, [("energy", 11.0)]),
    ]
    reply = await send_update(vtn, ven_id, request_id, intervals)
    assert reply.message_type == "oadrUpdatedReport" and reply.code == 200, reply.body
    assert await stored(vtn, ven_id) == [(0, "power", 1.5), (60, "power", 2.5), (120, "energy", 11.0)]
    # not silent: the answer names what was not stored
    assert "'energy'" in description(reply) and "not stored" in description(reply)


async def test_two_values_for_one_rid_and_dtstart_in_one_message_are_454(vtn: Vtn) -> None:
    """Which one is right cannot be told: the message is refused rather than one kept at random."""
    ven_id, request_id = await usage_request(vtn, "ven-mp4")
    reply = await send_update(vtn, ven_id, request_id, [(0, [("power", 1.5), ("power", 9.0)])])
    assert reply.message_type == "oadrUpdatedReport" and reply.code == 454, reply.body
    assert "'power'" in description(reply)
    assert await stored(vtn, ven_id) == []
    same = await send_update(vtn, ven_id, request_id, [(0, [("power", 1.5), ("power", 1.5)])])
    assert same.code == 200, "a repeated identical value is harmless"
    assert await stored(vtn, ven_id) == [(0, "power", 1.5)]


async def test_the_service_without_the_group_writer_checks_rids_too(vtn: Vtn) -> None:
    """store_report_values with no report sink (a tool, another process) takes the unit-of-work
    path: the same rule holds there."""
    ven_id, request_id = await usage_request(vtn, "ven-mp5")
    samples = tuple(
        ReportSample(r_id, T0 + timedelta(seconds=offset), 60, float(value))
        for offset, payloads in THREE_BY_TWO
        for r_id, value in payloads
    )
    bad = IncomingReport(request_id, "TELEMETRY_USAGE", (*samples, ReportSample("actual_power", T0, 60, 1.0)))
    try:
        await store_report_values(UnitOfWork(vtn.sessions), None, ven_id, [bad], T0)
    except NotFound as err:
        assert "'actual_power'" in str(err)
    else:
        raise AssertionError("an unrequested rID was accepted")
    assert await stored(vtn, ven_id) == []
    await store_report_values(
        UnitOfWork(vtn.sessions), None, ven_id, [IncomingReport(request_id, "TELEMETRY_USAGE", samples)], T0
    )
    assert await stored(vtn, ven_id) == SIX_ROWS
