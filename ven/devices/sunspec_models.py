"""The SunSpec points the agent reads and writes, and how register values become numbers (pure).

Offsets are from a model's first data register (after its ID and L registers), as in the
SunSpec Information Model (models 1, 101-103, 120, 121, 123, 124, 802). A value is
`value x 10^sf` with its scale factor point; a point that holds its "not implemented" value
(int16 0x8000, uint16/enum16/bitfield16 0xFFFF, acc32 0, sunssf 0x8000), or whose scale
factor is not implemented or outside -10..10, reads as None and is named in the problems.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

SUNS_MARKER = (0x5375, 0x6E53)  # "SunS"
BASE_ADDRESSES = (40000, 0, 50000)
END_MODEL = 0xFFFF
MAX_READ = 125  # registers in one Modbus read

COMMON = 1
INVERTERS = (103, 102, 101)  # three-phase, split-phase, single-phase: one layout
NAMEPLATE = 120
SETTINGS = 121
CONTROLS = 123
STORAGE = 124
BATTERY_BASE = 802


class PointType(enum.StrEnum):
    UINT16 = "uint16"
    INT16 = "int16"
    ACC32 = "acc32"
    ENUM16 = "enum16"
    BITFIELD16 = "bitfield16"
    SUNSSF = "sunssf"
    STRING = "string"


@dataclass(frozen=True, slots=True)
class Point:
    offset: int
    type: PointType
    sf: str | None = None  # the point holding this one's scale factor
    size: int = 1  # registers (strings)


_T = PointType
_INVERTER = {
    "W": Point(12, _T.INT16, "W_SF"),
    "W_SF": Point(13, _T.SUNSSF),
    "WH": Point(22, _T.ACC32, "WH_SF", 2),
    "WH_SF": Point(24, _T.SUNSSF),
    "St": Point(36, _T.ENUM16),
}
POINTS: dict[int, dict[str, Point]] = {
    COMMON: {
        "Mn": Point(0, _T.STRING, size=16),
        "Md": Point(16, _T.STRING, size=16),
        "SN": Point(48, _T.STRING, size=16),
    },
    **{model: _INVERTER for model in INVERTERS},
    NAMEPLATE: {
        "WRtg": Point(1, _T.UINT16, "WRtg_SF"),
        "WRtg_SF": Point(2, _T.SUNSSF),
        "WHRtg": Point(17, _T.UINT16, "WHRtg_SF"),
        "WHRtg_SF": Point(18, _T.SUNSSF),
        "MaxDisChaRte": Point(23, _T.UINT16, "MaxDisChaRte_SF"),
        "MaxDisChaRte_SF": Point(24, _T.SUNSSF),
    },
    SETTINGS: {"WMax": Point(0, _T.UINT16, "WMax_SF"), "WMax_SF": Point(20, _T.SUNSSF)},
    CONTROLS: {
        "WMaxLimPct": Point(3, _T.UINT16, "WMaxLimPct_SF"),
        "WMaxLimPct_WinTms": Point(4, _T.UINT16),
        "WMaxLimPct_RvrtTms": Point(5, _T.UINT16),
        "WMaxLim_Ena": Point(7, _T.ENUM16),
        "WMaxLimPct_SF": Point(21, _T.SUNSSF),
    },
    STORAGE: {
        "WChaMax": Point(0, _T.UINT16, "WChaMax_SF"),
        "StorCtl_Mod": Point(3, _T.BITFIELD16),
        "MinRsvPct": Point(5, _T.UINT16, "MinRsvPct_SF"),
        "ChaState": Point(6, _T.UINT16, "ChaState_SF"),
        "ChaSt": Point(9, _T.ENUM16),
        "OutWRte": Point(10, _T.INT16, "InOutWRte_SF"),
        "InWRte": Point(11, _T.INT16, "InOutWRte_SF"),
        "InOutWRte_WinTms": Point(12, _T.UINT16),
        "InOutWRte_RvrtTms": Point(13, _T.UINT16),
        "WChaMax_SF": Point(16, _T.SUNSSF),
        "MinRsvPct_SF": Point(19, _T.SUNSSF),
        "ChaState_SF": Point(20, _T.SUNSSF),
        "InOutWRte_SF": Point(23, _T.SUNSSF),
    },
    BATTERY_BASE: {
        "WHRtg": Point(1, _T.UINT16, "WHRtg_SF"),
        "SoCRsvMin": Point(8, _T.UINT16, "SoC_SF"),
        "SoC": Point(9, _T.UINT16, "SoC_SF"),
        "WHRtg_SF": Point(51, _T.SUNSSF),
        "SoC_SF": Point(54, _T.SUNSSF),
    },
}
# StorCtl_Mod bits: 0 = the charge limit InWRte applies, 1 = the discharge limit OutWRte applies.
STORCTL_CHARGE_AND_DISCHARGE = 0b11
WMAXLIM_ENABLED = 1
WMAXLIM_DISABLED = 0


def _signed(register: int) -> int:
    return register - 0x10000 if register & 0x8000 else register


def raw_value(registers: list[int], point: Point) -> int | str | None:
    """The point's register value, or None when it holds "not implemented"."""
    regs = registers[point.offset : point.offset + point.size]
    first = regs[0]
    if point.type == _T.STRING:
        text = b"".join(r.to_bytes(2, "big") for r in regs).split(b"\0", 1)[0]
        return text.decode("ascii", "replace").strip()
    if point.type == _T.ACC32:
        value = (first << 16) | regs[1]
        return None if value == 0 else value
    if point.type in (_T.INT16, _T.SUNSSF):
        return None if first == 0x8000 else _signed(first)
    return None if first == 0xFFFF else first


@dataclass(frozen=True, slots=True)
class ModelValues:
    """One model's points as numbers (scaled) or text; missing ones are named in `problems`."""

    model: int
    values: dict[str, float | int | str]
    problems: tuple[str, ...]

    def number(self, name: str) -> float | None:
        value = self.values.get(name)
        return float(value) if isinstance(value, int | float) else None


def decode(model: int, registers: list[int]) -> ModelValues:
    """The known points of `model` from its data registers, scaled."""
    points = POINTS.get(model, {})
    values: dict[str, float | int | str] = {}
    problems: list[str] = []
    for name, point in points.items():
        if point.type == _T.SUNSSF:
            continue
        if point.offset + point.size > len(registers):
            problems.append(f"{name}: beyond the model's {len(registers)} registers")
            continue
        raw = raw_value(registers, point)
        if raw is None:
            problems.append(f"{name}: not implemented")
            continue
        if point.sf is None or isinstance(raw, str):
            values[name] = raw
            continue
        sf = scale_factor(registers, points[point.sf])
        if sf is None:
            problems.append(f"{name}: its scale factor {point.sf} is not implemented or out of range")
            continue
        values[name] = round(raw * 10.0**sf, 10)
    return ModelValues(model, values, tuple(problems))


def scale_factor(registers: list[int], point: Point) -> int | None:
    if point.offset >= len(registers):
        return None
    sf = raw_value(registers, point)
    return sf if isinstance(sf, int) and -10 <= sf <= 10 else None


def to_register(value: float, sf: int, *, signed: bool) -> int:
    """`value` in the point's units as the 16-bit register for scale factor `sf` (clamped)."""
    raw = round(value / 10.0**sf)
    low, high = (-0x7FFF, 0x7FFF) if signed else (0, 0xFFFE)  # the ends are "not implemented"
    raw = max(low, min(high, raw))
    return raw & 0xFFFF
