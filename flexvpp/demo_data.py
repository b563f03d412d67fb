"""The demo's market data: generated day-ahead prices (or the user's file) and a PV shape file.

Generated prices follow a winter day of a Western European day-ahead market: cheap at night,
a morning ramp, a solar dip at noon and the evening peak, plus grid fees and taxes on import.
"""

from __future__ import annotations

import csv
import json
import math
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

SLOT = timedelta(minutes=15)
IMPORT_FEES_EUR_PER_KWH = 0.13
CAPACITY_EUR_PER_KW_MONTH = 3.37  # Flemish capacity tariff, 2025


class DemoInputError(ValueError):
    """A --prices or --pv file that cannot be used; the message names the file and the problem."""


def spot_eur_per_kwh(hour: float, rng: random.Random) -> float:
    morning = 0.045 * math.exp(-(((hour - 8.0) / 1.5) ** 2))
    evening = 0.095 * math.exp(-(((hour - 18.5) / 2.0) ** 2))
    solar = -0.03 * math.exp(-(((hour - 13.0) / 2.5) ** 2))
    night = -0.025 if 1.0 <= hour < 5.0 else 0.0
    return max(0.0, 0.085 + morning + evening + solar + night + rng.gauss(0.0, 0.004))


def generated_prices(start: datetime, slots: int, seed: int = 3) -> dict[str, Any]:
    """The PUT /api/v1/prices body for `slots` quarter hours from `start`."""
    rng = random.Random(seed)
    spot = [
        spot_eur_per_kwh(((start + t * SLOT).hour * 60 + (start + t * SLOT).minute) / 60.0, rng)
        for t in range(slots)
    ]
    return {
        "start": start.isoformat(),
        "resolution_minutes": 15,
        "import_eur_per_kwh": [round(s + IMPORT_FEES_EUR_PER_KWH, 4) for s in spot],
        "export_eur_per_kwh": [round(max(0.0, 0.9 * s - 0.01), 4) for s in spot],
        "capacity_eur_per_kw_month": CAPACITY_EUR_PER_KW_MONTH,
    }


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as handle:
        return [r for r in csv.reader(handle) if r and not r[0].lstrip().startswith("#")]


def read_prices(path: Path, start: datetime, slots: int) -> dict[str, Any]:
    """A prices file: JSON in the PUT /api/v1/prices shape, or CSV `import_eur_per_kwh[,export]`
    per quarter hour (an optional header line; the values start at the simulated day's midnight
    and repeat daily when shorter than the demo)."""
    try:
        if path.suffix == ".json":
            body = json.loads(path.read_text())
            if not isinstance(body, dict) or "import_eur_per_kwh" not in body:
                raise DemoInputError(f"{path}: a JSON prices file needs import_eur_per_kwh")
            body.setdefault("start", start.isoformat())
            body.setdefault("resolution_minutes", 15)
            return body
        rows = _rows(path)
        if rows and not _is_number(rows[0][0]):
            rows = rows[1:]
        imports = [float(r[0]) for r in rows]
        exports = [float(r[1]) if len(r) > 1 else 0.0 for r in rows]
    except (OSError, ValueError, IndexError) as exc:
        raise DemoInputError(f"--prices {path}: {exc}") from exc
    if not imports:
        raise DemoInputError(f"--prices {path}: no values")
    reps = math.ceil(slots / len(imports))
    return {
        "start": start.isoformat(),
        "resolution_minutes": 15,
        "import_eur_per_kwh": (imports * reps)[:slots],
        "export_eur_per_kwh": (exports * reps)[:slots],
        "capacity_eur_per_kw_month": CAPACITY_EUR_PER_KW_MONTH,
    }


def read_pv_shape(path: Path) -> list[float]:
    """A PV file: CSV (or a JSON list) of output per kW peak [kW/kWp] for the 96 quarter hours
    of a day from midnight UTC; any other count is resampled to 96."""
    try:
        if path.suffix == ".json":
            values = [float(v) for v in json.loads(path.read_text())]
        else:
            rows = _rows(path)
            if rows and not _is_number(rows[-1][-1]):
                raise DemoInputError(f"--pv {path}: the last column must hold kW per kWp")
            rows = [r for r in rows if _is_number(r[-1])]
            values = [float(r[-1]) for r in rows]
    except (OSError, ValueError) as exc:
        raise DemoInputError(f"--pv {path}: {exc}") from exc
    if not values or any(v < 0 or v > 1.2 for v in values):
        raise DemoInputError(f"--pv {path}: values must be between 0 and 1.2 kW per kWp")
    return [values[int(t * len(values) / 96)] for t in range(96)]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
