import sys
from pathlib import Path

# The VEN tests' private-Mosquitto fixture.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ven"))

from ven_broker import mosquitto  # noqa: F401  (a fixture)
