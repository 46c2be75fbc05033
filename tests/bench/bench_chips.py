"""The two chips side by side on multi-line wraps (issue 22): AS7341 and AS7343, each on units drawn from its own
production spread (never the estimator's table), uncalibrated and after ``calibrate spectral``.

Physics stated here: an honest wrap whose LED lines sit where claimed (true peak = claimed +/- up to 3 nm, FWHM
20 nm below 740 nm, 30 nm above), each line an equal share of 40 mW/cm2 at the wrap surface behind a 5 %
attenuator; a reading at 4x, 50 ms with shot noise (counts) and 1 count read noise. The counts come from the
unit's own table (the register path is exercised by tests/test_chip_seam.py; this measures the estimate). The
spectral calibration uses three reference LEDs (630, 730, 850 nm, FWHM 20 nm, peak known to 1 nm, 30 mW/cm2).

Per chip, combination and state: which claimed lines the plan resolves (rig.spectrum.line_plan decides from the
table), the resolved peaks' |error| median, the median stated U (k=2) and the coverage (|error| <= U).
Printed only; nothing asserted beyond 'an estimate came back'.
"""

from __future__ import annotations

import numpy as np

from rig.calibration.file import spectral_calibration
from rig.calibration.spectral import ReferenceReading, fit_spectral
from rig.chips import CHIPS
from rig.sim.as7343 import draw_unit
from rig.sim.sensor_unit import SensorSpread, SensorUnit
from rig.spectrum import Calibration, estimate
from rig.spectrum.line_plan import ClaimedLine, plan_lines

COMBOS = ((660.0, 850.0), (630.0, 660.0), (660.0, 730.0), (730.0, 850.0), (810.0, 850.0, 940.0),
          (630.0, 660.0, 810.0, 850.0))
UNITS, DRAWS = 3, 4
T_INT_MS, GAIN_X, TRANSMISSION, TOTAL_MW_CM2 = 50.0, 4.0, 0.05, 40.0


def unit_of(chip_name: str, k: int) -> SensorUnit:
    if chip_name == "as7341":
        return SensorUnit.draw(f"chips-{k}", 500 + k, SensorSpread())
    return draw_unit(f"chips-{k}", 500 + k)


def counts_of(unit: SensorUnit, lines: list[tuple[float, float, float]], rng) -> np.ndarray:
    """Raw counts of a reading of these (peak, FWHM, mW/cm2 at the surface) lines on this unit."""
    chip = unit.responsivity.chip
    ratio = chip.gain_ratio(GAIN_X) * unit.gain_factors[chip.gain_code(GAIN_X)]
    basic = sum(unit.responsivity.line_response(p, w) * mw * 1000.0 * TRANSMISSION for p, w, mw in lines)
    mean = basic * T_INT_MS * ratio + 1.5
    return np.clip(rng.poisson(np.maximum(mean, 0)) + rng.normal(0, 1.0, len(mean)), 0, chip.timing.counts_max)


def calibrated(unit: SensorUnit, nominal: Calibration, rng) -> Calibration:
    refs = []
    for peak in (630.0, 730.0, 850.0):
        for _ in range(3):
            refs.append(ReferenceReading(tuple(counts_of(unit, [(peak, 20.0, 30.0)], rng)), GAIN_X, T_INT_MS, peak,
                                         20.0, 1.0, 30.0))
    fit = fit_spectral(refs, nominal.responsivity, TRANSMISSION, (1.5,) * nominal.chip.n_channels)
    return spectral_calibration(nominal, fit)


def test_chips_side_by_side():
    rng = np.random.default_rng(22)
    table = {}
    for chip_name, chip in CHIPS.items():
        nominal = Calibration(chip.load_responsivity(), transmission=TRANSMISSION)
        units = [unit_of(chip_name, k) for k in range(UNITS)]
        cals = {"uncal": [nominal] * UNITS, "cal": [calibrated(u, nominal, rng) for u in units]}
        for state, per_unit in cals.items():
            for combo in COMBOS:
                claimed = tuple(ClaimedLine(f"line_{p:g}nm", p, 10.0 if p < 740 else 20.0) for p in combo)
                errors, us, resolved_n, total_n = [], [], 0, 0
                for unit, cal in zip(units, per_unit, strict=True):
                    plan = plan_lines(claimed, cal.responsivity, cal.model_u)
                    for _ in range(DRAWS):
                        truth = [(p + rng.uniform(-3, 3), 20.0 if p < 740 else 30.0, TOTAL_MW_CM2 / len(combo))
                                 for p in combo]
                        result = estimate(counts_of(unit, truth, rng), GAIN_X, T_INT_MS, cal, plan=plan)
                        for c, (peak, _w, _mw) in zip(claimed, truth, strict=True):
                            total_n += 1
                            got, u = result.lines.get(f"{c.name}_peak_nm"), result.lines.get(f"{c.name}_peak_u_nm")
                            if got is None or u is None:
                                continue
                            resolved_n += 1
                            errors.append(abs(got - peak))
                            us.append(u)
                resolved = [c.peak_nm for c in claimed if any(s.name == c.name and s.resolved for s in plan.specs)]
                err, u = np.array(errors), np.array(us)
                table[(chip_name, state, combo)] = (
                    "+".join(f"{p:g}" for p in resolved) or "-", resolved_n / total_n,
                    float(np.median(err)) if len(err) else float("nan"),
                    float(np.median(u)) if len(u) else float("nan"),
                    float(np.mean(err <= u)) if len(err) else float("nan"))
    print("\ncombo (nm)              | chip   | state | plan resolves    | peaks given | |err| med | U med | cover")
    for combo in COMBOS:
        for chip_name in CHIPS:
            for state in ("uncal", "cal"):
                names, given, err, u, cover = table[(chip_name, state, combo)]
                print(f"{'+'.join(f'{p:g}' for p in combo):23s} | {chip_name} | {state:5s} | {names:16s} | "
                      f"{given:11.0%} | {err:9.1f} | {u:5.1f} | {cover:5.0%}")
    assert table
