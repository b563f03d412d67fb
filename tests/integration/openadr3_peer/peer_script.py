"""The real peer's session, run in the peer venv (peer_venv.py) by test_python_oa3_client.py.

Reads its settings as JSON on stdin; prints one JSON line per step to stdout
({"step": ..., ...}) and exits 0 when every step did what the test expects of it, 1 with
{"step": "failed", "error": ...} otherwise. It uses the package's own calls only, as a VEN
developer would (README of python-oa3-client 0.5.0).
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from datetime import UTC, datetime, timedelta
from typing import Any

from openadr3_client import BlClient, VenClient


def say(step: str, **data: Any) -> None:
    print(json.dumps({"step": step, **data}, default=str), flush=True)


def event_body(program_id: str, name: str, start: datetime, value: float) -> dict[str, Any]:
    return {
        "programID": program_id,
        "eventName": name,
        "intervalPeriod": {"start": start.isoformat().replace("+00:00", "Z"), "duration": "PT1H"},
        "payloadDescriptors": [
            {"objectType": "EVENT_PAYLOAD_DESCRIPTOR", "payloadType": "IMPORT_CAPACITY_LIMIT", "units": "KW"}
        ],
        "intervals": [{"id": 0, "payloads": [{"type": "IMPORT_CAPACITY_LIMIT", "values": [value]}]}],
    }


def run(cfg: dict[str, Any]) -> None:
    url = cfg["url"]
    start = (datetime.now(UTC) + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    with BlClient(url=url, client_id=cfg["bl_id"], client_secret=cfg["bl_secret"]) as bl:
        say("bl_token", token_set=bool(bl.token))
        created = bl.create_program(
            {"programName": cfg["program"], "intervalPeriod": {"start": start.isoformat(), "duration": "P1D"}}
        )
        assert created.status_code == 201, (created.status_code, created.text)
        program_id = created.json()["id"]
        say("program_created", id=program_id)
        first = bl.create_event(event_body(program_id, "first", start, 5.0))
        assert first.status_code == 201, (first.status_code, first.text)
        say("event_created", id=first.json()["id"])

        with VenClient(url=url, client_id=cfg["ven_id"], client_secret=cfg["ven_secret"]) as ven:
            ven.register(cfg["ven_name"])
            say("ven_registered", ven_id=ven.ven_id, ven_name=ven.ven_name)
            program = ven.find_program_by_name(cfg["program"])
            assert program is not None and program.id == program_id, program
            say("program_found", id=program.id)
            events = ven.events(programID=program_id)
            say(
                "events_read",
                ids=[e.id for e in events],
                values=[e.intervals[0].payloads[0].values for e in events],
            )
            assert first.json()["id"] in [e.id for e in events]

            assert ven.vtn_supports_mqtt(), ven.discover_notifiers()
            uris = ven.get_mqtt_broker_uris()
            mqtt = ven.add_mqtt(uris[0], client_id=f"peer-{cfg['ven_name']}")
            mqtt.start()
            topics = ven.subscribe(
                program_names=[cfg["program"]], objects=["EVENT"], operations=["CREATE"], channel=mqtt
            )
            say("subscribed", uris=uris, topics=topics)
            time.sleep(1.5)  # the SUBACK: subscribe() does not wait for it

            second = bl.create_event(event_body(program_id, "second", start + timedelta(hours=2), 7.0))
            assert second.status_code == 201, (second.status_code, second.text)
            second_id = second.json()["id"]
            say("second_event_created", id=second_id)
            deadline = time.monotonic() + float(cfg.get("wait_s", 30))
            heard = []
            while time.monotonic() < deadline and not heard:
                heard = [
                    m
                    for m in mqtt.messages
                    if getattr(m.payload, "object", None) is not None and m.payload.object.id == second_id
                ]
                time.sleep(0.1)
            assert heard, [(m.topic, m.raw_payload[:200]) for m in mqtt.messages]
            note = heard[0].payload
            say(
                "notified",
                topic=heard[0].topic,
                operation=note.operation,
                object_type=note.object_type,
                object_id=note.object.id,
            )

            report = ven.create_report(
                {
                    "programID": program_id,
                    "eventID": second_id,
                    "clientName": cfg["ven_name"],
                    "reportName": "usage",
                    "resources": [
                        {
                            "resourceName": cfg["resource"],
                            "intervalPeriod": {
                                "start": start.isoformat().replace("+00:00", "Z"),
                                "duration": "PT15M",
                            },
                            "intervals": [
                                {"id": 0, "payloads": [{"type": "USAGE", "values": [cfg["usage_kwh"]]}]}
                            ],
                        }
                    ],
                }
            )
            assert report.status_code == 201, (report.status_code, report.text)
            say("report_created", id=report.json()["id"])


def main() -> int:
    cfg = json.loads(sys.stdin.read())
    try:
        run(cfg)
    except Exception as exc:  # the test prints what the peer saw
        say("failed", error=f"{type(exc).__name__}: {exc}", trace=traceback.format_exc()[-3000:])
        return 1
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
