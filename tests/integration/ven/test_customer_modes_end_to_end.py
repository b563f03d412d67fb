"""The household's app steers its charger, end to end with real parts: the project's VTN, a
private Mosquitto, a simulated home with a car on the charger and its agent, on the wall clock.

Each charge mode and start/stop goes in over REST with the site's customer token; the VTN
re-plans, the changed LOAD_DISPATCH event reaches the agent at its next poll, and the charger's
measured power (its telemetry, read back through GET /sites/{site_id}) follows:
smart with expensive hours now -> 0; boost -> full power; solar without PV -> 0; boost -> full
power; off -> 0; start -> full power (for this car, whatever the mode); stop -> 0.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from test_ven_end_to_end import Setup, until
from ven_broker import Mosquitto

from aggregator.scenario_builder import slot_start
from vtn.api.tokens import create_token

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]
EXPENSIVE_SLOTS = 8  # the first two hours; the car needs 3 h at full power and may stay 8 h
IDLE_KW = 0.1  # "not charging": below this
WAIT_S = 90.0  # only stops a hang; the delay measured is printed


class CustomerSetup(Setup):
    def __init__(self, tmp: Path, mosquitto: Mosquitto) -> None:
        super().__init__(tmp, mosquitto)
        # The loop's watch (rolling re-plans, excluding a home that deviates) stays off: the
        # runs here are the ones the household's changes ask for.
        self.vtn.settings = self.vtn.settings.model_copy(
            update={"dispatch_target": "ev", "portfolio_loop": False}
        )
        self.customer = ""

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        operator, self.vtn.token = self.vtn.token, self.customer
        try:
            return await self.vtn.api(method, path, body)
        finally:
            self.vtn.token = operator

    async def charger_kw(self) -> float | None:
        site = await self.call("GET", f"/sites/{self.site}")
        evse = [d for d in site["devices"] if d["device_id"] == "evse-1"]
        return evse[0]["power_kw"] if evse else None


@pytest.fixture
async def rig(tmp_path: Path, mosquitto: Mosquitto) -> Any:
    setup = CustomerSetup(tmp_path, mosquitto)
    try:
        await setup.start()
        setup.customer = await create_token(setup.vtn.db_url, "customer", site_id=setup.site)
        yield setup
    finally:
        await setup.stop()


async def test_each_charge_mode_and_start_stop_changes_what_the_charger_draws(rig: CustomerSetup) -> None:
    now = datetime.now(UTC)
    await rig.vtn.api("PUT", "/prices", {
        "start": slot_start(now).isoformat(), "resolution_minutes": 15,
        "import_eur_per_kwh": [0.40] * EXPENSIVE_SLOTS + [0.05] * 88,
    })  # fmt: skip

    async def flexibility_with_the_car() -> bool:
        try:
            site = await rig.vtn.api("GET", f"/vens/{rig.ven_id}/site")
        except AssertionError:
            return False  # 409 until the agent's first flexibility report
        return bool(site["site"].get("evs"))

    await until(flexibility_with_the_car, WAIT_S, "the agent's flexibility report with the car")
    full_kw = min(rig.ev.max_kw, 9.2 - 0.5) * 0.6  # boost: the connection (9.2 kW) less the house

    async def step(what: str, method: str, path: str, body: dict[str, Any], charging: bool) -> None:
        asked = time.monotonic()
        await rig.call(method, f"/sites/{rig.site}{path}", body)

        async def follows() -> bool:
            kw = await rig.charger_kw()
            return kw is not None and (kw >= full_kw if charging else kw < IDLE_KW)

        await until(follows, WAIT_S, f"the charger to follow {what}")
        print(f"{what}: the charger followed after {time.monotonic() - asked:.1f} s")

    # Each step changes what the charger draws: from charging to not, or back.
    preferences = {"ev_target_kwh": 30.0}

    async def mode(name: str, charging: bool) -> None:
        await step(name, "PUT", "/preferences", {**preferences, "charge_mode": name}, charging)

    await mode("smart", charging=False)  # the expensive hours are now
    schedule = await rig.call("GET", f"/sites/{rig.site}/schedule")
    assert schedule["slots"][0]["ev_kw"] == 0.0 and schedule["ev_energy_at_departure_kwh"] > 0
    await mode("boost", charging=True)
    await mode("solar", charging=False)  # no PV here: no surplus to charge from
    await mode("boost", charging=True)
    await mode("off", charging=False)
    await step("start", "POST", "/charging", {"action": "start"}, charging=True)  # boost despite off
    await step("stop", "POST", "/charging", {"action": "stop"}, charging=False)
    runs = await rig.vtn.api("GET", "/portfolio/runs")
    assert all(r["status"] != "error" for r in runs), [(r["trigger"], r["message"]) for r in runs]
    assert rig.ev.session is not None  # the same car all along: nothing above was its leaving
