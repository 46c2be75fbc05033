"""The estimator's speed on a counts table (issue 14: long analyses show progress and run at >= 1000 rows/s).

Physics stated: a table read from a production-spread unit through rig's reader: distinct lit readings of a
660 + 850 nm wrap at 5-100 mW/cm2 (every lit reading differs by its shot noise), and 1000 rows that repeat one lit
reading (identical counts and settings). Printed: rows/s in one process for 1000 distinct rows, the repeated rows
and a mix; 2000 distinct rows shared between one process per CPU (as 4000 distinct readings or more are); and the
same 200 readings estimated one at a time (``estimate``, as a run does per sample) against together
(``estimate_many``, as ``rig analyze`` does), measured in this run. Asserted: progress once per chunk of 1000
distinct readings, its last call the table's length; a repeated reading is estimated once (repeated rows >= 20x
faster than distinct ones); the shared table gives the same rows in order; fitting readings together is >= 3x
faster than one at a time. The command's own rows/s on a 20 000-row CSV is asserted in bench_analyze.py.
"""

from __future__ import annotations

import os
import time

import numpy as np
from bench_spectrum_accuracy import DARK, Jig, T

from rig.chips import DEFAULT_CHIP
from rig.sim.sensor_unit import SensorSpread, SensorUnit
from rig.spectrum import Calibration, analyze_counts, estimate, estimate_many
from rig.spectrum.responsivity import Responsivity


def rows_of(readings) -> list[dict]:
    return [{**dict(zip(DEFAULT_CHIP.channels, r.counts, strict=True)), "gain_x": r.gain_x, "t_int_ms": r.t_int_ms,
             "saturated": r.saturated} for r in readings]


def test_analyze_rows_per_second():
    jig = Jig(SensorUnit.draw("analyze-speed", 5, SensorSpread()), seed=5)
    rng = np.random.default_rng(5)
    try:
        lit = rows_of(jig.read([(660.0, 20.0, level), (850.0, 30.0, level / 2)])
                      for level in rng.uniform(5, 100, 2000))
        held = rows_of([jig.read([(660.0, 20.0, 40.0), (850.0, 30.0, 20.0)])]) * 1000
    finally:
        jig.close()
    calibration = Calibration(Responsivity.load(), transmission=T, dark_counts=DARK)
    seen: list[int] = []
    rates = {}
    for name, rows in (("distinct lit", lit[:1000]), ("repeated", held), ("mix", lit[:500] + held[:500])):
        start = time.perf_counter()
        out = analyze_counts(rows, calibration, progress=seen.append)
        rates[name] = len(out) / (time.perf_counter() - start)
    assert seen == [1000, 1000, 1000]  # one chunk of distinct readings per table, covering its 1000 rows
    seen.clear()
    start = time.perf_counter()
    parallel = analyze_counts(lit, calibration, progress=seen.append, workers=os.cpu_count())
    rates[f"2000 distinct on {os.cpu_count()} processes"] = len(parallel) / (time.perf_counter() - start)
    print("\nrig analyze: " + ", ".join(f"{name} {rate:.0f} rows/s" for name, rate in rates.items())
          + " (target >= 1000 rows/s for a 200 000-row CSV)")
    assert seen == [1000, 2000]
    assert parallel[0] == out[0] and parallel[1999]["F1"] == lit[1999]["F1"]  # in order, as in one process
    assert rates["repeated"] >= 20 * rates["distinct lit"]

    sample = lit[:200]
    args = ([[float(r[c]) for c in DEFAULT_CHIP.channels] for r in sample], [r["gain_x"] for r in sample],
            [r["t_int_ms"] for r in sample], calibration)
    start = time.perf_counter()
    one_by_one = [estimate(c, g, t, calibration) for c, g, t in zip(*args[:3], strict=True)]
    alone_s = time.perf_counter() - start
    start = time.perf_counter()
    together = estimate_many(*args)
    together_s = time.perf_counter() - start
    print(f"200 readings one at a time {alone_s / 200 * 1e3:.2f} ms each, together {together_s / 200 * 1e3:.2f} ms "
          f"each: {alone_s / together_s:.1f}x")
    assert [e.flags for e in together] == [e.flags for e in one_by_one]
    assert alone_s >= 3 * together_s
