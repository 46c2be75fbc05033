"""Accuracy of the spectral estimate on simulated AS7341 *units*, uncalibrated and after a spectral calibration.

Every sensor here is a unit drawn from the production spread (rig/sim/sensor_unit.py: filter centres sd
3.3 nm within +/-10 nm, sensitivity sd 10 %, width 5 %, skew, out-of-band 1.5 %, gain ratios 2 %); none has
the estimator's typical table. Rows: "production" units (the spread as stated; the issue's targets are
asserted on them), "near-typical" units (spread x 0.3) and "outlier" units (spread x 2), printed.

Physics stated by this test: LED lines (Gaussian, FWHM 15 or 25 nm) at the wrap surface of
1-200 mW/cm2, seen behind a 5 % attenuator (T = 0.05): red 610-690 nm alone, red + NIR (810/830/850/880/940 nm,
FWHM 30 nm, 50-100 % of the red irradiance), NIR alone. Each reading is taken by rig's reader (two
integrations at 50 ms, auto-range) from the register-level emulator with dark counts and shot + read noise.

Calibration, as a user would do it: three reference LEDs (630, 660, 850 nm) whose peaks a spectrometer
measured to 0.5 nm (standard; the true peak is off the nominal by up to a few nm and the stated value is
the spectrometer's, with its error), 10 readings each -> ``fit_spectral``; then one irradiance reference
at 660 nm, 50 mW/cm2, read by a meter with 3 % standard uncertainty -> ``fit_scale``.

Definitions: "missed" = a band of >= 1 mW/cm2 reported as a confident zero: neither seen (a peak and a non-zero
irradiance) nor "undetermined" (flag ``<band>_undetermined``: the channels cannot exclude it; its irradiance is
reported as the middle of [0, k=2 upper limit] with U reaching both ends) with an upper limit that covers its
true irradiance; an undetermined band whose limit is below the truth is missed. "phantom" = an NIR peak
reported where there is no NIR light (an undetermined NIR band has no peak: not a phantom). "NIR undet":
readings with NIR undetermined, with NIR light / without.

Targets (asserted, production units):
- uncalibrated: no reading with a band >= 1 mW/cm2 reported zero or absent; red peak inside its stated
  uncertainty >= 90 %; irradiance inside its stated uncertainty >= 90 %;
- calibrated: red peak median |error| <= 1.5 nm, p95 <= 4 nm, coverage >= 90 %; NIR bucket >= 90 %;
  irradiance median error <= 5 % for red LEDs 610-690 nm;
- <= 20 ms per estimate.
"""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass

import numpy as np

from rig.calibration_file import spectral_calibration
from rig.calibration_fit import Reading, fit_scale, measure_nominal
from rig.clock import SimClock
from rig.config import SpectralConfig
from rig.hardware.spectral import SpectralSensor
from rig.responsivity import Responsivity
from rig.sim.as7341 import AS7341Emulator, install_sim_clock
from rig.sim.bus import SimBus
from rig.sim.optics import FixedLight, SpectralLine
from rig.sim.sensor_unit import SensorSpread, SensorUnit
from rig.spectral_calibration import ReferenceReading, fit_spectral
from rig.spectrum import Calibration, Estimate, estimate

T = 0.05
DARK = (1.5,) * 10
QUICK = bool(os.environ.get("RIG_BENCH_QUICK"))
RED_PEAKS = np.arange(610.0, 691.0, 20.0 if QUICK else 10.0)
FWHMS = (15.0, 25.0)
LEVELS = (1.0, 5.0, 20.0, 80.0, 200.0)  # mW/cm2 at the surface
NIR_PEAKS = (810.0, 830.0, 850.0, 880.0, 940.0)
REFERENCES = ((630.0, 18.0), (660.0, 20.0), (850.0, 30.0))  # nominal peak, FWHM of the reference LEDs
UNITS = {"production": (1.0, 3 if QUICK else 6), "near-typical": (0.3, 2), "outlier": (2.0, 2)}


@dataclass
class Case:
    red: float | None
    red_fwhm: float
    red_mw: float
    nir: float | None
    nir_mw: float
    result: Estimate

    @property
    def total(self) -> float:
        return self.red_mw + self.nir_mw


class Jig:
    """One simulated unit in the jig, read through rig's reader."""

    def __init__(self, unit: SensorUnit, seed: int) -> None:
        self.clock, bus, self.light = SimClock(), SimBus(), FixedLight()
        bus.attach(0x39, AS7341Emulator(self.clock, self.light, seed=seed, unit=unit))
        self._ctx = install_sim_clock(self.clock)
        self._ctx.__enter__()
        self.sensor = SpectralSensor(bus.busio(), SpectralConfig(), self.clock, "ND + diffuser", T)

    def read(self, lines: list[tuple[float, float, float]]):
        """Lines (peak nm, FWHM nm, mW/cm2 at the surface); one auto-ranged reading."""
        self.light.lines = [SpectralLine(p, w, e * 1000 * T) for p, w, e in lines]
        return self.sensor.read()

    def close(self) -> None:
        self._ctx.__exit__(None, None, None)


def cases(rng: np.random.Generator) -> list[tuple]:
    out = []
    for peak, fwhm, level in itertools.product(RED_PEAKS, FWHMS, LEVELS):
        out.append((peak, fwhm, level, None, 0.0))
        nir = NIR_PEAKS[int(rng.integers(len(NIR_PEAKS)))]
        out.append((peak, fwhm, level, nir, level * rng.uniform(0.5, 1.0)))
    for nir, level in itertools.product(NIR_PEAKS, LEVELS):
        out.append((None, 20.0, 0.0, nir, level))
    return out


def calibrate(jig: Jig, rng: np.random.Generator) -> Calibration:
    """Three spectrometer-measured reference LEDs, then one 660 nm irradiance reference (meter u 3 %)."""
    readings = []
    for nominal, fwhm in REFERENCES:
        true_peak = nominal + rng.uniform(-3, 3)
        stated = true_peak + rng.normal(0, 0.5)  # the spectrometer's reading of it
        for _ in range(10):
            r = jig.read([(true_peak, fwhm, 30.0)])
            readings.append(ReferenceReading(r.counts, r.gain_x, r.t_int_ms, round(stated, 1), fwhm, 0.5,
                                             saturated=r.saturated))
    fit = fit_spectral(readings, Responsivity.load(), T, DARK)
    spectral = spectral_calibration(Calibration(Responsivity.load(), transmission=T, dark_counts=DARK), fit)
    true_mw = 50.0
    meter = true_mw * (1 + rng.normal(0, 0.03))
    irr = [jig.read([(660.0, 20.0, true_mw)]) for _ in range(10)]
    measured = measure_nominal([Reading(r.counts, r.gain_x, r.t_int_ms, r.saturated) for r in irr], [660.0] * 10,
                               T, DARK, base=spectral)
    scale = fit_scale([meter] * 10, measured)
    return Calibration(spectral.responsivity, transmission=T, scale=scale.scale, scale_u_rel=scale.scale_u_rel,
                       dark_counts=DARK, id="bench", calibrated=True, model_u=spectral.model_u,
                       peak_floor_nm=spectral.peak_floor_nm, spectral_calibrated=True)


def run_unit(unit: SensorUnit, seed: int) -> tuple[list[Case], list[Case], float, int]:
    rng = np.random.default_rng(seed)
    jig = Jig(unit, seed)
    try:
        nominal = Calibration(Responsivity.load(), transmission=T, dark_counts=DARK)
        calibrated = calibrate(jig, rng)
        uncal, cal, spent, n = [], [], 0.0, 0
        for red, fwhm, red_mw, nir, nir_mw in cases(rng):
            lines = ([(red, fwhm, red_mw)] if red is not None else []) + \
                ([(nir, 30.0, nir_mw)] if nir is not None else [])
            r = jig.read(lines)
            for calibration, out in ((nominal, uncal), (calibrated, cal)):
                start = time.perf_counter()
                result = estimate(r.counts, r.gain_x, r.t_int_ms, calibration, r.saturated, r.full_scale)
                spent += time.perf_counter() - start
                n += 1
                out.append(Case(red, fwhm, red_mw, nir, nir_mw, result))
    finally:
        jig.close()
    return uncal, cal, spent, n


def stats(cases_: list[Case]) -> dict[str, float]:
    red = [c for c in cases_ if c.red is not None]
    red_err = np.array([abs(c.result.red_peak_nm - c.red) if c.result.red_peak_nm is not None else np.inf
                        for c in red])
    red_u = np.array([c.result.red_peak_u_nm if c.result.red_peak_u_nm is not None else 0.0 for c in red])
    irr_err = np.array([abs((c.result.irradiance_mw_cm2 or 0.0) - c.total) / c.total for c in cases_])
    irr_u = np.array([(c.result.irradiance_u_mw_cm2 or 0.0) / c.total for c in cases_])
    red_only = [c for c in red if c.nir is None]
    red_only_err = [abs((c.result.irradiance_mw_cm2 or 0.0) - c.total) / c.total for c in red_only]
    with_nir = [c for c in cases_ if c.nir is not None]
    bucket = [c.result.nir_peak_nm is not None
              and min(NIR_PEAKS, key=lambda b: abs(b - c.result.nir_peak_nm)) == c.nir for c in with_nir]
    def missed_band(c: Case, band: str, truth_mw: float) -> bool:
        """A lit band reported as a confident zero: neither seen (peak and irradiance) nor undetermined with an
        interval [0, upper limit] that covers its true irradiance."""
        r = c.result
        if getattr(r, f"{band}_peak_nm") and getattr(r, f"{band}_irradiance_mw_cm2"):
            return False
        value, u = getattr(r, f"{band}_irradiance_mw_cm2") or 0.0, getattr(r, f"{band}_irradiance_u_mw_cm2") or 0.0
        return not (f"{band}_undetermined" in r.flags and truth_mw <= value + u)

    missed = [c for c in cases_ if not c.result.irradiance_mw_cm2
              or (c.red is not None and c.red_mw >= 1 and missed_band(c, "red", c.red_mw))
              or (c.nir is not None and c.nir_mw >= 1 and missed_band(c, "nir", c.nir_mw))]
    phantom = [c for c in cases_ if c.nir is None and c.result.nir_peak_nm is not None]
    undetermined = [c for c in cases_ if "nir_undetermined" in c.result.flags]
    return {
        "n": len(cases_),
        "red_med": float(np.median(red_err)) if red else np.nan,
        "red_p95": float(np.percentile(red_err, 95)) if red else np.nan,
        "red_u_med": float(np.median(red_u)) if red else np.nan,
        "red_cover": float(np.mean(red_err <= red_u)) if red else np.nan,
        "irr_med": float(np.median(irr_err)), "irr_red_med": float(np.median(red_only_err)) if red_only else np.nan,
        "irr_u_med": float(np.median(irr_u)), "irr_cover": float(np.mean(irr_err <= irr_u)),
        "nir_bucket": float(np.mean(bucket)) if bucket else np.nan,
        "missed": len(missed), "phantom_nir": len(phantom),
        "nir_undet": f"{sum(c.nir is not None for c in undetermined)}/{sum(c.nir is None for c in undetermined)}",
        "fit_poor": sum("fit_poor" in c.result.flags for c in cases_),
    }


def table(rows: list[tuple[str, list[Case]]]) -> str:
    head = (f"{'units / cases':<34}{'n':>5} | {'red peak |err| nm':^17} {'u med':>6} {'cover':>6} | "
            f"{'irradiance err':^14} {'red-only':>8} {'u med':>6} {'cover':>6} | {'NIR bkt':>7} | "
            f"{'missed':>6} {'phantom':>7} {'NIR undet':>9} {'fit_poor':>8}")
    sub = f"{'':<34}{'':>5} | {'median':>8} {'p95':>8} {'':>6} {'':>6} | {'median':>14} {'median':>8}"
    lines = [head, sub, "-" * len(head)]
    for label, cs in rows:
        s = stats(cs)
        lines.append(f"{label:<34}{s['n']:>5} | {s['red_med']:>8.2f} {s['red_p95']:>8.2f} {s['red_u_med']:>6.2f} "
                     f"{s['red_cover']:>6.1%} | {s['irr_med']:>14.1%} {s['irr_red_med']:>8.1%} {s['irr_u_med']:>6.1%} "
                     f"{s['irr_cover']:>6.1%} | {s['nir_bucket']:>7.1%} | {s['missed']:>6} {s['phantom_nir']:>7} "
                     f"{s['nir_undet']:>9} {s['fit_poor']:>8}")
    return "\n".join(lines)


def test_spectral_accuracy_on_production_units():
    results: dict[str, tuple[list[Case], list[Case]]] = {}
    spent, count = 0.0, 0
    for kind, (scale, n_units) in UNITS.items():
        uncal_all, cal_all = [], []
        for k in range(n_units):
            unit = SensorUnit.draw(f"bench-{kind}-{k}", 100 + k, SensorSpread(scale=scale))
            uncal, cal, s, n = run_unit(unit, seed=1000 + 17 * k + int(scale * 10))
            uncal_all += uncal
            cal_all += cal
            spent += s
            count += n
        results[kind] = (uncal_all, cal_all)
    ms = 1000 * spent / count
    print(f"\nspectral accuracy on simulated AS7341 units (k=2 uncertainties); T = {T}; red {RED_PEAKS[0]:g}-"
          f"{RED_PEAKS[-1]:g} nm, FWHM {FWHMS}, {LEVELS} mW/cm2 at the surface, NIR {NIR_PEAKS}")
    print(f"estimate: {ms:.2f} ms per reading ({count} estimates)")
    rows = []
    for kind, (uncal, cal) in results.items():
        scale, n_units = UNITS[kind]
        rows.append((f"{kind} x{n_units} (spread x{scale:g}) uncal", uncal))
        rows.append((f"{kind} x{n_units} (spread x{scale:g}) cal", cal))
    print(table(rows))
    uncal, cal = results["production"]
    print("\nproduction units by case:")
    groups = [("red only", lambda c: c.nir is None), ("red + NIR", lambda c: c.red is not None and c.nir is not None),
              ("NIR only", lambda c: c.red is None), ("1 mW/cm2", lambda c: c.total <= 2.0),
              (">= 80 mW/cm2", lambda c: c.total >= 80)]
    print(table([(f"{name} {tag}", [c for c in cs if pick(c)]) for name, pick in groups
                 for tag, cs in (("uncal", uncal), ("cal", cal))]))

    u, c = stats(uncal), stats(cal)
    red_cal = stats([x for x in cal if x.red is not None and x.nir is None])
    assert u["missed"] == 0
    assert u["red_cover"] >= 0.90 and u["irr_cover"] >= 0.90
    assert c["missed"] == 0
    assert c["red_med"] <= 1.5 and c["red_p95"] <= 4.0 and c["red_cover"] >= 0.90
    assert c["nir_bucket"] >= 0.90
    assert red_cal["irr_red_med"] <= 0.05
    assert ms <= 20.0
