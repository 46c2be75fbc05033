"""``rig analyze`` speed on a counts table (issue 14: a 200 000-row CSV must show progress, target >= 1000 rows/s).

Physics stated: a run-like table read from a production-spread unit through rig's reader: 1000 distinct lit
readings of a 660 + 850 nm wrap at 5-100 mW/cm2 (every lit reading differs by its shot noise), and 1000 rows of
switched-off readings that repeat one held dark reading (as a run's dark and cool-down phases do when the
counts are identical). Printed: rows/s for the distinct rows, for the repeated rows and for the mix; asserted:
progress is reported every 1000 rows and at the end, and a repeated reading is estimated once (the repeated rows
run at least 20x faster than distinct ones). The 1000 rows/s target for distinct readings is printed, not
asserted: one estimate (grid search + least-squares refinement) costs several ms.
"""

from __future__ import annotations

import time

import numpy as np
from bench_spectrum_accuracy import DARK, Jig, T

from rig.responsivity import CHANNELS, Responsivity
from rig.sim.sensor_unit import SensorSpread, SensorUnit
from rig.spectrum import Calibration, analyze_counts


def rows_of(readings) -> list[dict]:
    return [{**dict(zip(CHANNELS, r.counts, strict=True)), "gain_x": r.gain_x, "t_int_ms": r.t_int_ms,
             "saturated": r.saturated} for r in readings]


def test_analyze_rows_per_second():
    jig = Jig(SensorUnit.draw("analyze-speed", 5, SensorSpread()), seed=5)
    rng = np.random.default_rng(5)
    try:
        lit = rows_of(jig.read([(660.0, 20.0, level), (850.0, 30.0, level / 2)])
                      for level in rng.uniform(5, 100, 1000))
        held = rows_of([jig.read([(660.0, 20.0, 40.0), (850.0, 30.0, 20.0)])]) * 1000
    finally:
        jig.close()
    calibration = Calibration(Responsivity.load(), transmission=T, dark_counts=DARK)
    seen: list[int] = []
    rates = {}
    for name, rows in (("distinct lit", lit), ("repeated", held), ("mix", lit[:500] + held[:500])):
        start = time.perf_counter()
        out = analyze_counts(rows, calibration, progress=seen.append)
        rates[name] = len(out) / (time.perf_counter() - start)
    print("\nrig analyze: " + ", ".join(f"{name} {rate:.0f} rows/s" for name, rate in rates.items())
          + f" (target >= 1000 rows/s: {'met' if rates['distinct lit'] >= 1000 else 'NOT met'} for distinct rows)")
    assert seen[:2] == [1000, 1000] and seen.count(1000) == 6  # every 1000 rows and at the end, per table
    assert rates["repeated"] >= 20 * rates["distinct lit"]
