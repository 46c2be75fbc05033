"""The two chips side by side on multi-line wraps (issue 22): AS7341 and AS7343, each on units drawn from its own
production spread (never the estimator's table), read through its own real Adafruit driver on its register-level
emulator, uncalibrated and after the README's calibration.

Physics stated here: an *honest* wrap whose LED lines sit where claimed, give or take the LEDs' own bin (true
peak = claimed +/- up to 3 nm; FWHM 18-22 nm below 740 nm, 28-32 nm above), each line 0.5-1.5x an equal share of
the total, 10, 40 or 120 mW/cm2 at the wrap surface, seen behind a 5 % attenuator. Every reading is one auto-ranged
reading of rig's reader for the chip (AS7341: two SMUX integrations; AS7343: one 18-channel auto-SMUX measurement)
from the emulator with its dark counts (1.5) and shot + read noise.

Calibrated = the README's procedure, chip for chip (bench_spectrum_accuracy's ``Jig`` and ``calibrate``): three
reference LEDs (630, 660, 850 nm; true peak within 3 nm of nominal, stated by a spectrometer to 0.5 nm), 10
readings each -> ``fit_spectral``; then a 660 nm irradiance reference at 50 mW/cm2 read by a meter with 1 %
standard uncertainty -> ``fit_scale``.

Per chip, combination and state: which claimed lines the plan gives a peak for (``rig.spectrum.line_plan`` decides
from the table in use: the typical table, or the unit's calibrated one), the given peaks' |error| median / p95, the
median stated U (k=2) and coverage (|error| <= U); the total irradiance's relative |error| median / p95, its U
median and coverage. Printed; only sanity is asserted (every reading gave an estimate with an irradiance).
RIG_BENCH_QUICK=1: fewer units and draws.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
from bench_multiline import honest_lines
from bench_spectrum_accuracy import DARK_COUNTS, Jig, T, calibrate

from rig.chips import CHIPS, SpectralChip
from rig.sim.sensor_unit import SensorUnit
from rig.spectrum import Calibration, estimate
from rig.spectrum.line_plan import ClaimedLine, plan_lines
from rig.spectrum.responsivity import Responsivity

QUICK = bool(os.environ.get("RIG_BENCH_QUICK"))
COMBOS = ((660.0, 850.0), (630.0, 660.0), (660.0, 730.0), (730.0, 850.0), (810.0, 850.0, 940.0),
          (630.0, 660.0, 810.0, 850.0))
LEVELS = (10.0, 40.0, 120.0)  # mW/cm2 at the wrap surface, all lines together
UNITS = 2 if QUICK else 6
DRAWS = 1 if QUICK else 3  # honest wraps per combination, level and unit


def unit_of(chip: SpectralChip, k: int) -> SensorUnit:
    """Unit ``k`` of ``chip``, drawn from its own production spread by its emulator's module."""
    return sys.modules[chip.load("emulator").__module__].unit_from_spread(f"chips-{k}", 500 + k)


def claimed(combo: tuple[float, ...]) -> tuple[ClaimedLine, ...]:
    return tuple(ClaimedLine(f"line_{p:g}nm", p, 10.0 if p < 740 else 20.0) for p in combo)


def run_chip(chip: SpectralChip) -> dict[tuple[str, tuple], dict]:
    """Per (state, combo): the given peaks' errors and U, the total irradiance's, and the lines each unit's plan
    gives a peak for."""
    out: dict[tuple[str, tuple], dict] = {}
    dark = (DARK_COUNTS,) * chip.n_channels
    for k in range(UNITS):
        rng = np.random.default_rng(2200 + k)
        jig = Jig(unit_of(chip, k), seed=900 + k)
        try:
            cals = {"uncal": Calibration(Responsivity.load(chip=chip), transmission=T, dark_counts=dark),
                    "cal": calibrate(jig, rng)}
            for combo in COMBOS:
                plans = {tag: plan_lines(claimed(combo), c.responsivity, c.model_u) for tag, c in cals.items()}
                for tag, plan in plans.items():  # this unit's plan: the claimed lines it gives a peak for
                    cell = out.setdefault((tag, combo), {"err": [], "u": [], "line": [], "n": 0, "irr": [],
                                                         "irr_u": [], "resolved": []})
                    cell["resolved"].append(tuple(c.peak_nm for c in claimed(combo) if c.name not in plan.unresolved))
                for level in LEVELS:
                    for _ in range(DRAWS):
                        lines = honest_lines(rng, combo, level, bin_nm=3.0)
                        r = jig.read(lines)
                        for tag, cal in cals.items():
                            e = estimate(r.counts, r.gain_x, r.t_int_ms, cal, r.saturated, r.full_scale,
                                         plan=plans[tag])
                            cell = out[(tag, combo)]
                            for (p, _w, _mw), c in zip(lines, claimed(combo), strict=True):
                                cell["n"] += 1
                                got, u = e.lines.get(f"{c.name}_peak_nm"), e.lines.get(f"{c.name}_peak_u_nm")
                                if got is not None and u is not None:
                                    cell["err"].append(abs(got - p))
                                    cell["u"].append(u)
                                    cell["line"].append(c.peak_nm)
                            assert e.irradiance_mw_cm2 is not None, f"{chip.name} {tag} {combo}: no irradiance"
                            cell["irr"].append(abs(e.irradiance_mw_cm2 - level) / level)
                            cell["irr_u"].append(e.irradiance_u_mw_cm2 / level)
        finally:
            jig.close()
    return out


def resolves(cell: dict) -> str:
    """The claimed lines every unit's plan gives a peak for; a line only some units' plans give is marked (n/N)."""
    plans = cell["resolved"]
    lines = sorted({p for plan in plans for p in plan})
    words = [f"{p:g}" if all(p in plan for plan in plans) else
             f"{p:g}({sum(p in plan for plan in plans)}/{len(plans)})" for p in lines]
    return "+".join(words) or "none"


def cut(value: float, width: int, spec: str) -> str:
    """``value`` in ``width`` characters, '-' when there is none (no peak given)."""
    return f"{'-' if value != value else format(value, spec):>{width}}"


def stats(values: list[float]) -> tuple[float, float]:
    return (float(np.median(values)), float(np.percentile(values, 95))) if values else (np.nan, np.nan)


def test_chips_side_by_side():
    start = time.perf_counter()
    table = {chip.name: run_chip(chip) for chip in CHIPS.values()}
    print(f"\nboth chips on {UNITS} production units each, honest wraps at {LEVELS} mW/cm2, {DRAWS} draw(s) per level, "
          f"T = {T}; peak and irradiance |error| median / p95, U = stated k=2 U (median), cover = |error| <= U")
    head = (f"{'claimed lines':<20}{'chip':>7}{'state':>6} | {'plan gives a peak for':<22}{'peaks':>6} | "
            f"{'|err| med':>9}{'p95':>6}{'U med':>7}{'cover':>7} | {'irr err med':>11}{'p95':>6}{'U med':>7}"
            f"{'cover':>7}")
    print(head + "\n" + "-" * len(head))
    for combo in COMBOS:
        for name, rows in table.items():
            for tag in ("uncal", "cal"):
                cell = rows[(tag, combo)]
                err_med, err_p95 = stats(cell["err"])
                irr_med, irr_p95 = stats(cell["irr"])
                err, u = np.array(cell["err"]), np.array(cell["u"])
                cover = float(np.mean(err <= u)) if len(err) else np.nan
                irr_cover = float(np.mean(np.array(cell["irr"]) <= np.array(cell["irr_u"])))
                u_med = float(np.median(u)) if len(u) else np.nan
                print(f"{'+'.join(f'{p:g}' for p in combo):<20}{name:>7}{tag:>6} | {resolves(cell):<22}"
                      f"{len(err) / cell['n']:>6.0%} | {cut(err_med, 9, '.1f')}{cut(err_p95, 6, '.1f')}"
                      f"{cut(u_med, 7, '.1f')}{cut(cover, 7, '.0%')} | {irr_med:>11.1%}{irr_p95:>6.1%}"
                      f"{float(np.median(cell['irr_u'])):>7.1%}{irr_cover:>7.0%}")
    print("\nper given line (the lines some plan gives a peak for): peak |error| median / p95, U median, cover")
    for combo in COMBOS:
        for name, rows in table.items():
            for tag in ("uncal", "cal"):
                cell = rows[(tag, combo)]
                at = np.array(cell["line"])
                words = []
                for line in sorted(set(cell["line"])):
                    err, u = np.array(cell["err"])[at == line], np.array(cell["u"])[at == line]
                    words.append(f"{line:g}: {np.median(err):.1f} / {np.percentile(err, 95):.1f} nm, "
                                 f"U {np.median(u):.1f}, {np.mean(err <= u):.0%}")
                if words:
                    print(f"{'+'.join(f'{p:g}' for p in combo):<20}{name:>7}{tag:>6} | " + "; ".join(words))
    print(f"({time.perf_counter() - start:.0f} s)")
    assert all(len(rows) == 2 * len(COMBOS) for rows in table.values())
