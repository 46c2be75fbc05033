"""Honest wraps never FAIL and lying wraps never PASS after the README's calibration (issue 20.6, small version).

The full table (12 units x 3 seeds, with the issue's >= 95 % PASS / FAIL targets) is tests/bench/bench_verdicts.py;
this runs its code on one production unit: a wrap whose every quantity (red peak, NIR peak, irradiance, dose) is
within half its tolerance of the claim, and one off by 1.5 tolerances in every quantity, four of each.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "bench"))

from bench_verdicts import judge  # noqa: E402

from rig.claims.verdict import Verdict  # noqa: E402
from rig.sim.sensor_unit import SensorSpread, SensorUnit  # noqa: E402


def test_after_calibration_honest_claims_never_fail_and_lies_never_pass():
    got = judge(SensorUnit.draw("verdict-test", 77, SensorSpread()), seed=4077)
    for claim, verdicts in got.items():
        assert not [v for lie, v in verdicts if not lie and v is Verdict.FAIL], claim
        assert not [v for lie, v in verdicts if lie and v is Verdict.PASS], claim
    # the lie that matters most to a user is caught outright at least half the time: irradiance off by 30 % (k=2 U
    # about 10 % calibrated, so a +30 % lie can stay MARGINAL; the bench prints the rates)
    assert sum(v is Verdict.FAIL for lie, v in got["irradiance_mw_cm2"] if lie) >= 2
