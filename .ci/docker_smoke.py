"""The compose stack's smoke test (.ci/docker_stack.sh), over the VTN's REST API from outside:
a simulated home's VEN registered and polls, its telemetry reached the database, and a plan made
on demand was dispatched to it and answered. Standard library only (it runs on the CI host).

    python3 .ci/docker_smoke.py http://127.0.0.1:PORT TOKEN [--site home-001]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

# The agent registers within seconds of starting; its first reports (the site's flexibility, the
# devices' telemetry) follow its first telemetry period (60 s); the VTN is polled every 10 s.
REGISTERED_WITHIN_S = 120
TELEMETRY_WITHIN_S = 240
ANSWERED_WITHIN_S = 90


class Api:
    def __init__(self, base_url: str, token: str) -> None:
        self.base = base_url.rstrip("/") + "/api/v1"
        self.token = token

    def __call__(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as reply:
            return json.load(reply)


def wait_for(what: str, within_s: float, probe: Callable[[], Any]) -> Any:
    """probe() until it returns something true; its last problem is in the failure's message."""
    started = time.monotonic()
    last: object = None
    while time.monotonic() - started < within_s:
        try:
            found = probe()
        except (urllib.error.URLError, OSError, KeyError, ValueError) as exc:
            found, last = None, exc
        if found:
            print(f"{what}: after {time.monotonic() - started:.0f} s")
            return found
        time.sleep(2)
    sys.exit(f"FAILED: {what} not within {within_s} s (last: {last!r})")


def day_of_prices(now: datetime) -> dict[str, Any]:
    """A day of quarter-hour prices from the current quarter: dear in the evening, cheap at night."""
    start = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
    hours = [(start + timedelta(minutes=15 * i)).hour for i in range(96)]
    spot = [0.10 + 0.08 * math.sin(math.pi * (h - 11) / 12) for h in hours]
    return {
        "start": start.isoformat(),
        "resolution_minutes": 15,
        "import_eur_per_kwh": [round(s + 0.12, 4) for s in spot],
        "export_eur_per_kwh": [round(0.9 * s, 4) for s in spot],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("token")
    parser.add_argument("--site", default="home-001")
    args = parser.parse_args()
    api = Api(args.url, args.token)

    def registered() -> dict[str, Any] | None:
        vens = [v for v in api("GET", "/vens") if v["site_id"] == args.site]
        return vens[0] if vens and vens[0]["registered"] and vens[0]["online"] else None

    ven = wait_for(f"{args.site}'s VEN registered and polling", REGISTERED_WITHIN_S, registered)
    ven_id = ven["ven_id"]

    def telemetry() -> Counter[str] | None:
        names = Counter(p["report_name"] for p in api("GET", f"/vens/{ven_id}/telemetry"))
        measured = any(n.startswith("TELEMETRY_") for n in names)
        return names if measured and names["x-SITE_FLEXIBILITY"] else None

    names = wait_for("its telemetry and flexibility stored", TELEMETRY_WITHIN_S, telemetry)
    print("  report values stored:", dict(names))

    api("PUT", "/prices", day_of_prices(datetime.now(UTC)))
    run = api("POST", "/portfolio/plan")
    print(f"a plan on demand: {run['status']} by {run['solver']} in {run['seconds']:.2f} s")
    if run["status"] == "error":
        sys.exit(f"FAILED: the planning run failed: {run['message']}")

    def answered() -> dict[str, Any] | None:
        mine = [e for e in api("GET", "/events") if ven_id in e["ven_ids"]]
        return next((e for e in mine if e["responses"].get(ven_id) == "optIn"), None)

    event = wait_for("the VEN opted in to the dispatched event", ANSWERED_WITHIN_S, answered)
    print(f"  event {event['event_id']}: {event['signal_name']}, {len(event['intervals'])} intervals")
    print("the stack's smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
