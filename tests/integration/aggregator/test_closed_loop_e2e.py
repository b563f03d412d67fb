"""End to end with real parts: a private Mosquitto, the VTN on PostgreSQL, simulated homes with
their agents on an accelerated clock (the demo's machinery, flexvpp/demo.py).

Prices and a DR cap go in over REST with a `market` token; the homes receive their schedules as
OpenADR LOAD_DISPATCH events (modified on every re-plan, not replaced); the chargers follow
them; the portfolio's net import measured by the meters respects the cap while every car gets
the energy it asked for.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

import pytest
from cli_in_process import run_flexvpp
from sqlalchemy import select

from aggregator.dispatch import MARKET_CONTEXT
from flexvpp.demo import Demo, run_demo
from flexvpp.demo_homes import home_spec
from vtn.db.engine import create_engine
from vtn.db.tables import Event, EventResponse, EventTarget, PlanningRun, VenDispatch

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

HOMES = 3
CAP_KW_PER_HOME = 1.5
SPEED = 1200.0
# Energy above the cap allowed over the whole window, and why it is not zero. The measurement
# itself is exact: the meters read their counters at the quarter-hour edges (ven/simulators/
# home.py), so per-slot energy needs no interpolation across an edge. Cars arriving in the
# window add nothing: from the DR request on, a car-less home's charger has zeros over the
# capped slots until a re-plan gives its car a schedule. What remains is time: the agent steps
# at an interval's edge (ven/agent/runner.py), but its step and the command's way to the
# charger take real time, and the clock runs SPEED times faster. At an edge where the chargers'
# setpoints fall while the portfolio is planned at the cap (the largest fall is at the window's
# start, when the plan has the cars charging up to 17:00), every charger can run on at up to
# full power for that lag. Allowing REAL_LAG_S of real lag at one such edge:
#   sum(max_kw) * REAL_LAG_S * SPEED / 3600 = (11 + 7.4 + 11) kW * 180 s = 1.47 kWh.
# Measured after the fixes above: 0.00 kWh (3 homes, x1200); 0.10 kWh in the 20-home demo; 0.81 kWh
# (a lag of 82 ms) in a CI run beside three other test workers and the clean-venv demo, hence
# 0.15 s (3 simulated minutes at one edge). (Charging on arrival puts tens of kWh above the cap,
# as the last assert shows.)
REAL_LAG_S = 0.15
CHARGERS_MAX_KW = sum(home_spec(f"home-{i + 1:03d}", i, 900.0).ev_max_kw or 0.0 for i in range(HOMES))
CAP_TOLERANCE_KWH = CHARGERS_MAX_KW * REAL_LAG_S * SPEED / 3600.0


async def _rows(db_url: str) -> dict[str, Any]:
    engine = create_engine(db_url)
    try:
        async with engine.connect() as connection:
            events = (
                await connection.execute(select(Event).where(Event.market_context == MARKET_CONTEXT))
            ).all()
            targets = (await connection.execute(select(EventTarget))).all()
            responses = (await connection.execute(select(EventResponse))).all()
            runs = (await connection.execute(select(PlanningRun))).all()
            dispatch = (await connection.execute(select(VenDispatch))).all()
    finally:
        await engine.dispose()
    return {"events": events, "targets": targets, "responses": responses, "runs": runs, "dispatch": dispatch}


# The two x1200 closed loops (this and test_closed_loop_protocols_e2e.py) never run at once: each
# needs its agents on time, and side by side on the 2-core machine both missed (load 14).
@pytest.mark.xdist_group("closed-loop-x1200")
@pytest.mark.db_backends("postgresql")  # the SQLite path is the demo's (the next test)
def test_prices_and_a_dr_cap_reach_the_devices_and_the_meters_respect_the_cap(
    tmp_path: Path, mosquitto: Any, db_url: str
) -> None:
    demo = Demo(
        HOMES, tmp_path / "out", speed=SPEED, broker_url=mosquitto.url, db_url=db_url,
        cap_kw_per_home=CAP_KW_PER_HOME,
    )  # fmt: skip
    assert run_demo(demo) == 0
    _, figures = demo.result
    rows = asyncio.run(_rows(db_url))

    # Market inputs went in over REST and were planned: the DR request triggered a run.
    triggers = [r.trigger for r in rows["runs"]]
    assert any("DR request" in t for t in triggers), triggers
    assert any(r.status != "error" and "decomposition" in str(r.inputs.get("method")) for r in rows["runs"])

    # Each home got its schedule as one LOAD_DISPATCH event that re-plans modified.
    vens = {t.ven_id for t in rows["targets"] if t.event_id in {e.event_id for e in rows["events"]}}
    assert len(vens) == HOMES
    by_event = {e.event_id: e for e in rows["events"]}
    for ven_id in vens:
        mine = [
            by_event[t.event_id] for t in rows["targets"] if t.ven_id == ven_id and t.event_id in by_event
        ]
        assert mine and all(e.signal_name == "LOAD_DISPATCH" and e.signal_type == "setpoint" for e in mine)
        # one event per car session (the schedule steers the charger), far fewer than the runs
        assert len(mine) <= 3 < len(rows["runs"])
        assert max(e.modification_number for e in mine) >= 2  # modified, not replaced
        answers = [r for r in rows["responses"] if r.ven_id == ven_id]
        assert answers and all(a.opt_type == "optIn" for a in answers)

    # The meters' measured portfolio net import respects the cap in its window ...
    cap = figures.dr["cap_kw"]
    assert cap == pytest.approx(CAP_KW_PER_HOME * HOMES)
    assert figures.dr["over_cap_kwh"] <= CAP_TOLERANCE_KWH, figures.dr
    assert figures.dr["requested_kwh"] > 20 * CAP_TOLERANCE_KWH  # ... which charging on arrival would not
    # ... while every car that came home got the energy it asked for.
    assert len(figures.ev_rows) == HOMES
    for site, target_kwh, delivered_kwh, met in figures.ev_rows:
        assert met, f"{site}: {delivered_kwh:.2f} of {target_kwh:.2f} kWh"


def test_demo_command_writes_its_report(tmp_path: Path) -> None:
    """The demo's own path (SQLite, its own broker) on a machine with Python alone (issue 17): no
    `mosquitto` on the PATH, so it serves MQTT with the embedded broker; it plans, exits 0 and
    writes the report. Twice the cap test's clock: no cap tolerance is asserted here, and the day
    takes 38 s, not 75. (The demo with Mosquitto: the cap test above and CI's clean-venv demo.)"""
    out = tmp_path / "report"
    without_mosquitto = os.pathsep.join(
        d for d in os.environ["PATH"].split(os.pathsep) if not (Path(d) / "mosquitto").exists()
    )
    done = run_flexvpp(
        "demo", "--homes", "2", "--out", str(out), "--speed", "2400", env={"PATH": without_mosquitto}
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "(embedded amqtt)" in done.stderr, done.stderr[-3000:]
    assert "EVs at target" in done.stdout and "report:" in done.stdout
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 4
    # The first home's household, through its app's door: its mode, its sessions, its month.
    household = html[html.index("One household's view: home-001") :]
    assert "Charge mode <b>smart</b>" in household
    measured_eur = re.search(r"energy (\d+\.\d+) EUR against", household)
    assert measured_eur and float(measured_eur.group(1)) > 0, household  # the simulated day's energy
    assert household.count("<tr>") >= 2, household  # the header and at least the day's session
    for name in ("net_import", "ev_energy", "cost_peak", "dr"):
        assert (out / f"{name}.png").stat().st_size > 5000
    # The operator's dashboard was served while it ran: the report links it, the token is beside it.
    assert re.search(r"<a href='http://127\.0\.0\.1:\d+/dashboard/'>", html), html[-2000:]
    token = out / "operator-token"
    assert token.read_text().startswith("fvp_") and token.stat().st_mode & 0o077 == 0
    assert "the operator's dashboard: http://127.0.0.1:" in done.stderr


def test_demo_rejects_bad_arguments(tmp_path: Path) -> None:
    bad_pv = tmp_path / "pv.csv"
    bad_pv.write_text("hour,kw_per_kwp\n0,5.0\n")
    for args, field in ((["--homes", "0"], "--homes"), (["--pv", str(bad_pv)], "--pv")):
        done = run_flexvpp("demo", *args, "--out", str(tmp_path / "x"))
        assert done.returncode == 2 and field in done.stderr
