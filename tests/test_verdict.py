"""Verdict rules, stated: interval inside the band PASS, outside FAIL, straddling MARGINAL, none NOT MEASURED."""

import pytest

from rig.claims.verdict import Verdict, check_claim, judge


@pytest.mark.parametrize(("measured", "u", "expected"), [
    (50.0, 2.0, Verdict.PASS),       # 48..52 inside 40..60
    (41.0, 2.0, Verdict.MARGINAL),   # 39..43 straddles 40
    (59.5, 1.0, Verdict.MARGINAL),   # 58.5..60.5 straddles 60
    (30.0, 5.0, Verdict.FAIL),       # 25..35 below 40
    (61.0, 0.5, Verdict.FAIL),       # 60.5..61.5 above 60
    (None, None, Verdict.NOT_MEASURED),
    (float("nan"), 1.0, Verdict.NOT_MEASURED),
])
def test_two_sided_band_40_to_60(measured, u, expected):
    assert judge(40.0, 60.0, measured, u) is expected


def test_upper_limit_only_like_a_skin_temperature():
    assert judge(None, 43.0, 38.0, 0.5) is Verdict.PASS
    assert judge(None, 43.0, 42.8, 0.5) is Verdict.MARGINAL
    assert judge(None, 43.0, 44.0, 0.5) is Verdict.FAIL


def test_not_measured_carries_its_reason():
    check = check_claim("pulse_hz", "pulse frequency", "Hz", 10.0, "±5 %", 9.5, 10.5, None, None,
                        not_measured_why="pulse measurement not implemented yet")
    assert check.verdict is Verdict.NOT_MEASURED and "not implemented" in check.note
    assert check.as_dict()["verdict"] == "NOT MEASURED"
