"""The standard 2.0b status (issue 16): a TELEMETRY_STATUS report whose intervals carry
`oadrPayloadResourceStatus` (online, manual override, the load control state) is stored and
shown by `GET /api/v1/vens/{ven_id}/status`. Before the fix it was answered 200 "not stored"
and dropped, so `/status` stayed 409 for every VEN that sends the standard form.

The stock openleadr client renders every report payload as a payloadFloat, so these messages
are written with lxml as an independent 2.0b VEN sends them (XSD-checked here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lxml import etree

from vtn.api.tokens import insert_token
from vtn.openadr.xml import NS, schema

from .harness import T0, Reply, Vtn
from .helpers import provision_and_register
from .test_reports import requests_of

OADR, EI = "{" + NS["oadr"] + "}", "{" + NS["ei"] + "}"
XCAL, STRM, PYLD = "{" + NS["xcal"] + "}", "{" + NS["strm"] + "}", "{" + NS["pyld"] + "}"
SPECIFIER = "spec-status"
CHARGER = "charger-status"  # the standard form, resource evse-1
LONGEST = "h" * 128  # the longest rID the VTN takes (vtn/openadr/limits.py), resource hp-1


@dataclass(frozen=True)
class Status:
    """One oadrPayloadResourceStatus: `control` maps oadrCapacity/... to its oadrMin/... values."""

    r_id: str
    online: bool
    manual_override: bool
    control: dict[str, dict[str, float]] = field(default_factory=dict)


def _status_payload(status: Status) -> etree._Element:
    payload = etree.Element(f"{OADR}oadrReportPayload", nsmap={"oadr": NS["oadr"], "ei": NS["ei"]})
    etree.SubElement(payload, f"{EI}rID").text = status.r_id
    element = etree.SubElement(payload, f"{OADR}oadrPayloadResourceStatus")
    etree.SubElement(element, f"{OADR}oadrOnline").text = str(status.online).lower()
    etree.SubElement(element, f"{OADR}oadrManualOverride").text = str(status.manual_override).lower()
    if status.control:
        state = etree.SubElement(element, f"{OADR}oadrLoadControlState")
        for kind in ("oadrCapacity", "oadrLevelOffset", "oadrPercentOffset", "oadrSetPoint"):  # XSD order
            values = status.control.get(kind)
            if values is not None:
                kind_element = etree.SubElement(state, f"{OADR}{kind}")
                for name in ("oadrMin", "oadrMax", "oadrCurrent", "oadrNormal"):
                    if name in values:
                        etree.SubElement(kind_element, f"{OADR}{name}").text = repr(values[name])
    return payload


def _float_payload(r_id: str, value: float) -> etree._Element:
    payload = etree.Element(f"{OADR}oadrReportPayload", nsmap={"oadr": NS["oadr"], "ei": NS["ei"]})
    etree.SubElement(payload, f"{EI}rID").text = r_id
    etree.SubElement(etree.SubElement(payload, f"{EI}payloadFloat"), f"{EI}value").text = repr(value)
    return payload


def _time(parent: etree._Element, tag: str, at: datetime) -> None:
    wrapper = etree.SubElement(parent, tag)
    etree.SubElement(wrapper, f"{XCAL}date-time").text = at.strftime("%Y-%m-%dT%H:%M:%SZ")


Payload = Status | tuple[str, float]


def status_update(ven_id: str, request_id: str, intervals: list[tuple[int, list[Payload]]]) -> bytes:
    """An oadrUpdateReport of TELEMETRY_STATUS: per interval (offset s from T0) its payloads."""
    nsmap = {k: NS[k] for k in ("oadr", "ei", "pyld", "xcal", "strm")}
    root = etree.Element(f"{OADR}oadrPayload", nsmap=nsmap)
    signed = etree.SubElement(etree.SubElement(root, f"{OADR}oadrSignedObject"), f"{OADR}oadrUpdateReport")
    signed.set(f"{EI}schemaVersion", "2.0b")
    etree.SubElement(signed, f"{PYLD}requestID").text = "u-status"
    report = etree.SubElement(signed, f"{OADR}oadrReport")
    _time(report, f"{XCAL}dtstart", T0)
    stream = etree.SubElement(report, f"{STRM}intervals")
    for offset, payloads in intervals:
        interval = etree.SubElement(stream, f"{EI}interval")
        _time(interval, f"{XCAL}dtstart", T0 + timedelta(seconds=offset))
        etree.SubElement(etree.SubElement(interval, f"{XCAL}duration"), f"{XCAL}duration").text = "PT1M"
        for payload in payloads:
            interval.append(
                _status_payload(payload) if isinstance(payload, Status) else _float_payload(*payload)
            )
    etree.SubElement(report, f"{EI}eiReportID").text = "rep-status"
    etree.SubElement(report, f"{EI}reportRequestID").text = request_id
    etree.SubElement(report, f"{EI}reportSpecifierID").text = SPECIFIER
    etree.SubElement(report, f"{EI}reportName").text = "TELEMETRY_STATUS"
    etree.SubElement(report, f"{EI}createdDateTime").text = T0.strftime("%Y-%m-%dT%H:%M:%SZ")
    etree.SubElement(signed, f"{EI}venID").text = ven_id
    assert schema().validate(root), schema().error_log.last_error
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _description(r_id: str, resource_id: str) -> dict[str, Any]:
    return {
        "r_id": r_id,
        "report_type": "x-resourceStatus",
        "reading_type": "x-notApplicable",
        "report_data_source": {"resource_id": resource_id},
        "measurement": None,
        "sampling_rate": {
            "min_period": timedelta(seconds=10),
            "max_period": timedelta(seconds=60),
            "on_change": False,
        },
    }


async def status_request(vtn: Vtn, ven_name: str) -> tuple[str, str]:
    """A registered VEN offering TELEMETRY_STATUS: two standard status rIDs and our agent's float
    form (`evse-1.soc`); the VEN and the VTN's reportRequestID for it."""
    ven_id, _ = await provision_and_register(vtn, ven_name)
    report = {
        "report_specifier_id": SPECIFIER,
        "report_name": "METADATA_TELEMETRY_STATUS",
        "created_date_time": T0,
        "report_request_id": 0,
        "report_descriptions": [
            _description(CHARGER, "evse-1"),
            _description(LONGEST, "hp-1"),
            _description("evse-1.soc", "evse-1"),
        ],
    }
    reply = await vtn.send("EiReport", "oadrRegisterReport", request_id="rr", ven_id=ven_id, reports=[report])
    assert reply.code == 200, reply.body
    return ven_id, requests_of(reply)[SPECIFIER]["id"]


async def send(vtn: Vtn, ven_id: str, request_id: str, intervals: list[tuple[int, list[Payload]]]) -> Reply:
    return await vtn.post("EiReport", status_update(ven_id, request_id, intervals))


async def get_status(vtn: Vtn, ven_id: str) -> tuple[int, Any]:
    token = await insert_token(vtn.sessions, "operator")
    reply = await vtn.client.get(
        f"/api/v1/vens/{ven_id}/status", headers={"Authorization": f"Bearer {token}"}
    )
    return reply.status, await reply.json()


CAPACITY = {"oadrMin": 0.0, "oadrMax": 11.0, "oadrCurrent": 7.5, "oadrNormal": 11.0}


async def test_a_standard_resource_status_is_stored_and_shown(vtn: Vtn) -> None:
    """Before the fix: 200 "not stored (non-numeric payloads)" and `/status` 409."""
    ven_id, request_id = await status_request(vtn, "ven-rs1")
    charger = Status(CHARGER, True, False, {"oadrCapacity": CAPACITY, "oadrSetPoint": {"oadrCurrent": 21.5}})
    reply = await send(vtn, ven_id, request_id, [(0, [charger, Status(LONGEST, False, True)])])
    assert reply.message_type == "oadrUpdatedReport" and reply.code == 200, reply.body
    code, body = await get_status(vtn, ven_id)
    assert code == 200, body
    assert reply.text("ei:eiResponse/ei:responseDescription") == "OK", "nothing went unstored"
    assert body["devices"] == [], "no value in our agent's float form"
    assert body["updated_at"] == "2030-06-01T12:00:00Z"
    assert body["resources"] == [
        {
            "r_id": CHARGER,
            "resource_id": "evse-1",
            "updated_at": "2030-06-01T12:00:00Z",
            "online": True,
            "manual_override": False,
            "load_control_state": {
                "capacity": {"min": 0.0, "max": 11.0, "current": 7.5, "normal": 11.0},
                "level_offset": None,
                "percent_offset": None,
                "set_point": {"min": None, "max": None, "current": 21.5, "normal": None},
            },
        },
        {
            "r_id": LONGEST,
            "resource_id": "hp-1",
            "updated_at": "2030-06-01T12:00:00Z",
            "online": False,
            "manual_override": True,
            "load_control_state": None,
        },
    ]


async def test_the_newest_status_of_each_rid_wins_whole(vtn: Vtn) -> None:
    """A newer payload replaces the older one as a whole (its absent load control state is not
    filled in from the older payload); an older one sent later changes nothing."""
    ven_id, request_id = await status_request(vtn, "ven-rs2")
    older = Status(CHARGER, True, False, {"oadrCapacity": CAPACITY})
    newer = Status(CHARGER, False, True)
    assert (await send(vtn, ven_id, request_id, [(120, [newer])])).code == 200
    assert (await send(vtn, ven_id, request_id, [(0, [older]), (60, [("evse-1.soc", 40.0)])])).code == 200

    code, body = await get_status(vtn, ven_id)
    assert code == 200, body
    [resource] = body["resources"]
    assert (resource["updated_at"], resource["online"], resource["manual_override"]) == (
        "2030-06-01T12:02:00Z",
        False,
        True,
    )
    assert resource["load_control_state"] is None
    [device] = body["devices"]  # our agent's float form beside it, as before
    assert (device["device_id"], device["soc_percent"]) == ("evse-1", 40.0)
    assert body["updated_at"] == "2030-06-01T12:02:00Z"

    again = await send(vtn, ven_id, request_id, [(120, [newer])])  # re-sent: nothing changes
    assert again.code == 200
    contradiction = await send(vtn, ven_id, request_id, [(180, [newer, older])])  # two at one time
    assert contradiction.code == 454, contradiction.body
    assert (await get_status(vtn, ven_id))[1] == body
