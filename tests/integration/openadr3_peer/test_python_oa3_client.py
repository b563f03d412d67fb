"""The real peer: python-oa3-client 0.5.0 (its BlClient and VenClient, unmodified, in a venv of
its own: peer_venv.py) drives the 3.1 face of a VTN on a real port, with the real Mosquitto.

Token by client credentials (GET /auth/server, POST /auth/token), a BL client creates a program
and an event, a VEN client registers, finds the program, reads the event, subscribes over MQTT
(the topics from /notifiers/mqtt/topics/programs/{id}/events) and receives the notification of a
new event, posts a report; its values land in the VEN's 2.0b telemetry.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from live_vtn import live_vtn
from peer_venv import peer_python

from aggregator.telemetry import query_telemetry
from vtn.app import SESSIONS
from vtn.db.uow import UnitOfWork
from vtn.openadr3.clients import cli_create_client
from vtn.settings import VtnSettings

pytestmark = [pytest.mark.slow, pytest.mark.mqtt]
SCRIPT = Path(__file__).with_name("peer_script.py")


@pytest.fixture(scope="session")
def peer() -> Path:
    """The peer venv's interpreter (made once, cached across sessions)."""
    return peer_python()


@pytest.fixture
async def vtn(db_url: str) -> AsyncIterator[tuple[str, Any]]:
    prefix = f"peer{uuid.uuid4().hex[:8]}"
    settings = VtnSettings.model_validate(
        {
            "db_url": db_url,
            "webhook_poll_seconds": 0.1,
            "openadr3_mqtt_broker": "mqtt://127.0.0.1:1883",
            "openadr3_mqtt_topic_prefix": prefix,
            "portfolio_loop": False,
        }
    )
    async with live_vtn(settings) as (base, app):
        yield f"{base}/openadr3", app[SESSIONS]


async def _run_peer(python: Path, config: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    proc = await asyncio.create_subprocess_exec(
        str(python),
        str(SCRIPT),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(json.dumps(config).encode()), timeout=120)
    steps = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    assert proc.returncode is not None
    if proc.returncode != 0:
        print(err.decode()[-3000:])
    return proc.returncode, steps


@pytest.mark.db_backends("postgresql")
async def test_python_oa3_client_drives_the_31_face(peer: Path, vtn: tuple[str, Any], db_url: str) -> None:
    url, sessions = vtn
    bl = await cli_create_client(db_url, "bl", None)
    ven = await cli_create_client(db_url, "ven", "peer-ven")
    config = {
        "url": url,
        "bl_id": bl.client_id,
        "bl_secret": bl.client_secret,
        "ven_id": ven.client_id,
        "ven_secret": ven.client_secret,
        "ven_name": "peer-ven",
        "program": f"grid-aware-{uuid.uuid4().hex[:6]}",
        "resource": "meter-1",
        "usage_kwh": 3.25,
    }
    code, steps = await _run_peer(peer, config)
    by_step = {s["step"]: s for s in steps}
    assert code == 0 and "done" in by_step, steps
    assert by_step["bl_token"]["token_set"]
    assert by_step["program_found"]["id"] == by_step["program_created"]["id"]
    assert by_step["event_created"]["id"] in by_step["events_read"]["ids"]
    assert by_step["subscribed"]["uris"] == ["mqtt://127.0.0.1:1883"]
    notified = by_step["notified"]
    assert (notified["operation"], notified["object_type"]) == ("CREATE", "EVENT")
    assert notified["object_id"] == by_step["second_event_created"]["id"]
    assert notified["topic"].endswith(f"/programs/{by_step['program_created']['id']}/events/create")

    # The report's value is in the VEN's telemetry, as a 2.0b VEN's would be.
    ven_id = by_step["ven_registered"]["ven_id"]
    points = await query_telemetry(UnitOfWork(sessions), ven_id, None, None)
    assert [(p.r_id, p.value) for p in points] == [("meter-1/USAGE", 3.25)]
    assert points[0].dtstart > datetime.now(UTC)
