"""SunSpec register values: scale factors, signed values, "not implemented" and writes."""

from __future__ import annotations

import pytest

from ven.devices.sunspec_models import CONTROLS, STORAGE, decode, to_register


def regs(size: int, **at: int) -> list[int]:
    data = [0] * size
    for offset, value in at.items():
        data[int(offset[1:])] = value & 0xFFFF
    return data


def test_inverter_values_with_scale_factors() -> None:
    data = regs(50, o12=-123, o13=1, o22=0x0001, o23=0x0002, o24=-2, o36=4)
    values = decode(103, data)
    assert values.number("W") == -1230.0  # int16 -123 x 10^1
    assert values.number("WH") == pytest.approx(655.38)  # acc32 0x00010002 = 65538 x 10^-2
    assert values.values["St"] == 4 and values.problems == ()


def test_not_implemented_values_and_scale_factors_read_as_missing() -> None:
    data = regs(50, o12=0x8000, o13=0, o22=0, o23=0, o24=0)  # W 0x8000, WH 0 (acc32)
    values = decode(103, data)
    assert values.number("W") is None and values.number("WH") is None
    assert "W: not implemented" in values.problems and "WH: not implemented" in values.problems
    bad_sf = decode(103, regs(50, o12=100, o13=0x8000, o22=0, o23=5, o24=11))
    assert bad_sf.number("W") is None and bad_sf.number("WH") is None
    assert "W: its scale factor W_SF is not implemented or out of range" in bad_sf.problems
    assert "WH: its scale factor WH_SF is not implemented or out of range" in bad_sf.problems  # 11 > 10


def test_storage_rates_are_signed_percentages() -> None:
    data = regs(24, o0=5000, o3=3, o6=555, o10=-5000, o11=5000, o20=-1, o23=-2)
    values = decode(STORAGE, data)
    assert values.number("ChaState") == pytest.approx(55.5)
    assert values.number("OutWRte") == pytest.approx(-50.0) and values.number("InWRte") == pytest.approx(50.0)
    assert values.values["StorCtl_Mod"] == 3


def test_a_short_model_names_what_it_lacks() -> None:
    values = decode(CONTROLS, regs(10, o3=500, o7=1))
    assert values.number("WMaxLimPct") is None
    assert "WMaxLimPct_SF" not in values.values
    assert any(p.startswith("WMaxLimPct: its scale factor") for p in values.problems)


def test_common_model_strings() -> None:
    data = [0] * 66
    data[0:2] = [0x4142, 0x4300]  # "ABC"
    assert decode(1, data).values["Mn"] == "ABC"


def test_to_register_scales_and_clamps() -> None:
    assert to_register(37.5, -1, signed=False) == 375
    assert to_register(-50.0, -2, signed=True) == (-5000) & 0xFFFF
    assert to_register(1000.0, -2, signed=True) == 0x7FFF  # never the "not implemented" 0x8000
    assert to_register(-1000.0, -2, signed=True) == (-0x7FFF) & 0xFFFF
    assert to_register(-5.0, 0, signed=False) == 0
