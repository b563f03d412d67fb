"""Portfolio tests: real-data scenarios (the planner tests' helpers) and a portfolio checker."""

from __future__ import annotations

import sys
from pathlib import Path

# Helper modules beside these tests, and the planner tests' real-data builder and checker.
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "planner"))
