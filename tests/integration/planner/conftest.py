"""Planner integration tests: scenarios from the real data, an independent checker and reference."""

from __future__ import annotations

import sys
from pathlib import Path

# The helper modules (planner_realdata, planner_checker, planner_reference) sit beside the tests.
sys.path.insert(0, str(Path(__file__).parent))
