"""Two VTN instances (separate `flexvpp vtn serve` processes, no shared socket) on one PostgreSQL
database (issue 17, Done when 1).

- A DR request sent to the follower is planned once, by the leader, and dispatched once.
- The leader SIGKILLed, the other takes the loop within the configured `leader_takeover_seconds`.
- The killed one started again follows; a DR request sent to it is planned once by the new leader.
- VENs poll both instances in turn throughout: each gets each (event, modificationNumber) once,
  and ends knowing every event at the VTN's modificationNumber.

The homes report their flexibility over OpenADR as the agent does (tests/integration/vtn_site's
raw-XML helpers); their polls and answers are the kill test's (test_vtn_kill_dispatch.py).
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from fault_rig import VtnProcess
from openleadr.messaging import create_message, parse_message
from sim_vens import provision

from flexmodel.flexreport import REPORT_NAME, site_to_points
from ven.agent.openadr_mapping import FLEX_SPECIFIER

sys.path.insert(0, str(Path(__file__).parents[1] / "vtn_site"))  # the agent's messages, as raw XML
from site_messages import REGISTRATION, SiteVtn, flex_values, metadata, register_reports, send, update_report

pytestmark = [pytest.mark.slow, pytest.mark.db_backends("postgresql")]  # several need PostgreSQL
TAKEOVER_S = 6.0  # the configured bound (FLEXVPP_LEADER_TAKEOVER_SECONDS)
HOMES = 3
STEP = timedelta(minutes=15)
SLOTS = 96
WAIT_S = 120.0  # only stops a hang (a planning run on a loaded 2-core machine)
XML = {"Content-Type": "application/xml"}
RUN_LINE = re.compile(r"planning run \S+ \((.*)\): (\w+) in")


class TwoInstanceVen:
    """Polls the instances in turn (the other when one is down); answers each distribute (optIn
    to every event, which acknowledges it); records what each distribute carried."""

    def __init__(self, vtns: list[VtnProcess], ven_id: str) -> None:
        self.vtns, self.ven_id = vtns, ven_id
        self.body = create_message("oadrPoll", ven_id=ven_id).encode()
        self.distributes: list[list[tuple[str, int]]] = []
        self.polled: Counter[int] = Counter()  # polls answered, by instance
        self.answered = 0  # distributes whose oadrCreatedEvent the VTN answered
        self.stopped = False

    async def run(self, session: aiohttp.ClientSession) -> None:
        turn = 0
        while not self.stopped:
            turn += 1
            index = turn % len(self.vtns)
            vtn = self.vtns[index]
            try:
                async with session.post(f"{vtn.openadr}/OadrPoll", data=self.body, headers=XML) as reply:
                    body = await reply.read()
            except (aiohttp.ClientError, OSError):
                await asyncio.sleep(0.05)  # that instance is down: the next turn asks the other
                continue
            self.polled[index] += 1
            kind, payload = parse_message(body)
            if kind == "oadrDistributeEvent":
                events = [
                    (e["event_descriptor"]["event_id"], int(e["event_descriptor"]["modification_number"]))
                    for e in payload.get("events", [])
                ]
                self.distributes.append(events)
                await self._answer(session, vtn, payload.get("request_id"), events)
                continue
            await asyncio.sleep(0.1)

    async def _answer(
        self,
        session: aiohttp.ClientSession,
        vtn: VtnProcess,
        request_id: str | None,
        events: list[tuple[str, int]],
    ) -> None:
        ok = {"response_code": 200, "response_description": "OK", "request_id": request_id}
        body = create_message(
            "oadrCreatedEvent",
            response=ok,
            event_responses=[
                {**ok, "event_id": e, "modification_number": m, "opt_type": "optIn"} for e, m in events
            ],
            ven_id=self.ven_id,
        ).encode()
        try:
            async with session.post(f"{vtn.openadr}/EiEvent", data=body, headers=XML) as reply:
                await reply.read()
                self.answered += reply.status == 200
        except (aiohttp.ClientError, OSError):
            pass  # unanswered: the distribute comes again (a repeat the check below would name)

    def knows(self) -> dict[str, int]:
        known: dict[str, int] = {}
        for distribute in self.distributes:
            for event_id, modification in distribute:
                assert modification >= known.get(event_id, -1), f"{event_id}: modificationNumber went back"
                known[event_id] = modification
        return known

    def repeats(self) -> dict[tuple[str, int], int]:
        counts = Counter(pair for distribute in self.distributes for pair in distribute)
        return {pair: n for pair, n in counts.items() if n > 1}


def home_site(site_id: str, start: datetime) -> dict[str, Any]:
    """A home with a car to charge tonight: something for the planner to steer."""
    return {
        "site_id": site_id,
        "import_limit_kw": 9.2,
        "export_limit_kw": 6.0,
        "base_load_kw": [0.4 + 0.05 * (t % 7) for t in range(SLOTS)],
        "evs": [
            {
                "ev_id": "evse-1",
                "arrival": (start - timedelta(minutes=40)).isoformat(),
                "departure": (start + timedelta(hours=8)).isoformat(),
                "energy_needed_kwh": 18.0,
                "max_power_kw": 11.0,
                "efficiency": 0.92,
                "mode": "smart",
            }
        ],
    }


async def report_flexibility(session: aiohttp.ClientSession, name: str, ven_id: str, start: datetime) -> None:
    """Register, offer METADATA and send the flexibility snapshot over OpenADR, as the agent does."""
    vtn = SiteVtn(api=SimpleNamespace(client=session), sessions=None, openadr_url="", db_url="")  # type: ignore[arg-type]
    kind, reply = await send(
        vtn, "EiRegisterParty", "oadrCreatePartyRegistration", request_id="r1", ven_name=name, **REGISTRATION
    )
    assert kind == "oadrCreatedPartyRegistration" and reply["ven_id"] == ven_id, reply
    site = home_site(f"site-{name}", start)
    points = site_to_points(site, start, STEP)
    requests = await register_reports(vtn, ven_id, metadata(points, {}))
    values = flex_values(points)
    assert (
        await update_report(vtn, ven_id, requests[FLEX_SPECIFIER], FLEX_SPECIFIER, REPORT_NAME, values) == 200
    )


async def health(session: aiohttp.ClientSession, vtn: VtnProcess) -> dict[str, Any] | None:
    try:
        async with session.get(f"{vtn.base}/api/v1/health") as reply:
            return dict(await reply.json()) if reply.status == 200 else None
    except (aiohttp.ClientError, OSError):
        return None


async def leaders(session: aiohttp.ClientSession, vtns: list[VtnProcess]) -> list[bool]:
    return [bool((await health(session, v) or {}).get("leader")) for v in vtns]


def runs_logged(vtn: VtnProcess) -> list[str]:
    """The triggers of the planning runs this instance ran (aggregator.services' log line)."""
    return [m.group(1) for m in RUN_LINE.finditer(vtn.log_text())]


async def until(what: str, check: Any, timeout_s: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_two_instances_plan_once_dispatch_once_and_hand_the_loop_over(
    empty_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vtn.api.tokens import create_token

    monkeypatch.setenv("FLEXVPP_LEADER_TAKEOVER_SECONDS", str(TAKEOVER_S))
    names = [f"multi-{i}" for i in range(HOMES)]
    ven_ids = await provision(empty_db_url, names)  # migrates too: the instances start on it
    token = await create_token(empty_db_url, "operator", name="several instances test")
    auth = {"Authorization": f"Bearer {token}"}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = VtnProcess(empty_db_url, tmp_path / "a"), VtnProcess(empty_db_url, tmp_path / "b")
    await first.start()
    await second.start()
    vtns = [first, second]
    vens = [TwoInstanceVen(vtns, v) for v in ven_ids]
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    start -= timedelta(minutes=start.minute % 15)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def rest(vtn: VtnProcess, method: str, path: str, body: Any = None) -> Any:
            async with session.request(method, f"{vtn.base}/api/v1{path}", json=body, headers=auth) as reply:
                data = await reply.json()
                assert reply.status < 300, (method, path, reply.status, data)
                return data

        async def dr_request(vtn: VtnProcess, hours: tuple[int, int], cap_kw: float, reason: str) -> str:
            body = {
                "kind": "cap",
                "start": (start + timedelta(hours=hours[0])).isoformat(),
                "end": (start + timedelta(hours=hours[1])).isoformat(),
                "power_kw": cap_kw,
                "reason": reason,
            }
            return str((await rest(vtn, "POST", "/portfolio/requests", body))["request_id"])

        async def runs_for(vtn: VtnProcess, request_id: str) -> list[dict[str, Any]]:
            return [
                r
                for r in await rest(vtn, "GET", "/portfolio/runs")
                if f"DR request {request_id} " in r["trigger"]
            ]

        async def truth() -> dict[str, dict[str, int]]:
            """Each VEN's events at the VTN's modificationNumbers (read from the surviving instance)."""
            events = await rest(second, "GET", "/events")
            return {
                v: {e["event_id"]: e["modification_number"] for e in events if v in e["ven_ids"]}
                for v in ven_ids
            }

        async def answers_in() -> bool:
            return all(ven.answered == len(ven.distributes) for ven in vens)

        async def converged() -> bool:
            expected = await truth()
            return all(v.knows() == expected[v.ven_id] for v in vens)

        assert await leaders(session, vtns) == [True, False], "the first to start leads"
        leader, follower = first, second
        pollers = []
        try:
            for name, ven_id in zip(names, ven_ids, strict=True):
                base = vtns[ven_ids.index(ven_id) % 2].base  # each instance registers some
                async with aiohttp.ClientSession(base_url=base) as on_instance:
                    await report_flexibility(on_instance, name, ven_id, start)
            prices = {
                "start": start.isoformat(),
                "import_eur_per_kwh": [0.3 if 28 <= t < 40 else 0.15 for t in range(SLOTS)],
            }
            await rest(follower, "PUT", "/prices", prices)
            pollers = [asyncio.create_task(v.run(session)) for v in vens]

            # A DR request sent to the follower: planned once, by the leader, and dispatched once.
            first_request = await dr_request(follower, (1, 3), 4.0, "several instances, first")
            asked = time.monotonic()
            [run] = await until("the first DR request's run", lambda: runs_for(follower, first_request))
            assert run["status"] != "error", run
            print(f"first DR request: its run recorded {time.monotonic() - asked:.1f} s after it was sent")
            assert [t for t in runs_logged(leader) if first_request in t], "the leader planned it"
            assert not runs_logged(follower), "the follower plans nothing"
            events = await rest(leader, "GET", "/events")
            assert sorted(t for e in events for t in e["ven_ids"]) == sorted(ven_ids), "one event per home"
            assert {e["modification_number"] for e in events} == {0}
            await until("every VEN to know its event", converged)
            print(f"first DR request: every VEN knew its event {time.monotonic() - asked:.1f} s after")
            # Their answers in too: a kill that cuts an answer off is a redelivery by design (at
            # least once, as test_vtn_kill_dispatch.py allows), not the double dispatch looked for
            # here (CI: one VEN got modification 0 again after its answer died with the leader).
            await until("every VEN's answers to be acknowledged", answers_in)

            # The leader SIGKILLed: the other takes the loop within the configured time.
            leader.kill()
            killed_at = time.monotonic()
            await until("the other instance to lead", lambda: _leads(session, follower), 3 * TAKEOVER_S)
            takeover_s = time.monotonic() - killed_at
            print(f"takeover after SIGKILL: {takeover_s:.2f} s (bound {TAKEOVER_S} s)")
            assert takeover_s <= TAKEOVER_S, f"took the loop after {takeover_s:.1f} s"
            leader, follower = second, first

            # The killed instance back, as a follower; a DR request to it is planned by the new leader.
            await follower.start()
            assert await leaders(session, [leader, follower]) == [True, False]
            second_request = await dr_request(follower, (2, 5), 2.0, "several instances, second")
            asked = time.monotonic()
            [run] = await until("the second DR request's run", lambda: runs_for(follower, second_request))
            assert [t for t in runs_logged(leader) if second_request in t], "the new leader planned it"
            assert not [t for t in runs_logged(follower) if second_request in t]
            assert len(await until("the runs", lambda: rest(leader, "GET", "/portfolio/runs"))) == 2
            await until("every VEN to know the re-planned events", converged)
            print(f"second DR request: every VEN knew {time.monotonic() - asked:.1f} s after it was sent")
            expected = await truth()
            print(f"events by VEN at the end: {expected}")
        finally:
            for ven in vens:
                ven.stopped = True
            await asyncio.gather(*pollers)
            first.stop()
            second.stop()
    for ven in vens:
        assert ven.knows() == expected[ven.ven_id], (
            f"{ven.ven_id} knows {ven.knows()}, the VTN has {expected}"
        )
        assert not ven.repeats(), (
            f"{ven.ven_id} got (event, modificationNumber) more than once: {ven.repeats()}"
        )
        assert ven.polled[0] and ven.polled[1], f"{ven.ven_id} polled both instances: {ven.polled}"


async def _leads(session: aiohttp.ClientSession, vtn: VtnProcess) -> bool:
    return bool((await health(session, vtn) or {}).get("leader"))
