"""Small scenario documents for the flexmodel unit tests."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

START = "2025-03-10T00:00:00+01:00"


def tiny_scenario(n: int = 4, **site: Any) -> dict[str, Any]:
    """A one-site scenario of n quarter-hours; keyword arguments override the site's fields."""
    base_site: dict[str, Any] = {
        "site_id": "home-001",
        "import_limit_kw": 9.2,
        "export_limit_kw": 10.0,
        "base_load_kw": [0.5] * n,
    }
    base_site.update(site)
    return {
        "start": START,
        "resolution_minutes": 15,
        "horizon_slots": n,
        "tariff": {
            "import_eur_per_kwh": [0.25] * n,
            "export_eur_per_kwh": [0.05] * n,
            "capacity_eur_per_kw_month": 3.37,
        },
        "sites": [base_site],
    }


@pytest.fixture
def scenario() -> Callable[..., dict[str, Any]]:
    return lambda *a, **k: copy.deepcopy(tiny_scenario(*a, **k))
