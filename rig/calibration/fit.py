"""Making calibrations: dark counts, the irradiance scale against a reference meter, thermistor fits.

The logic behind ``rig calibrate``; numpy least squares throughout.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from rig.chips import SpectralChip
from rig.errors import RigError
from rig.hardware.ntc import KELVIN
from rig.spectrum import Calibration, estimate
from rig.spectrum.responsivity import Responsivity


@dataclass(frozen=True)
class Reading:
    """What a calibration needs of one reading."""

    counts: tuple[float, ...]
    gain_x: float
    t_int_ms: float
    saturated: bool = False


@dataclass(frozen=True)
class ScaleFit:
    """The fitted scale (reference / nominal measurement) with its standard relative uncertainty."""

    scale: float
    scale_u_rel: float
    measured_mw_cm2: list[float]
    residuals_rel: list[float]


def measure_nominal(readings: Sequence[Reading], references_nm: Sequence[float], transmission: float,
                    dark_counts: Sequence[float] | None = None, base: Calibration | None = None,
                    chip: SpectralChip | None = None) -> list[float]:
    """Irradiance at the surface of each reading with scale 1 (through the line model, so a scale made at
    one wavelength carries to the others). ``base``: the table and model uncertainty to use (a spectral
    calibration's), else the datasheet-nominal ones of ``chip`` (default: the default chip)."""
    nominal = replace(base or Calibration(Responsivity.load(chip=chip)), transmission=transmission, scale=1.0,
                      dark_counts=tuple(dark_counts) if dark_counts is not None else ())
    measured = []
    for reading, nm in zip(readings, references_nm, strict=True):
        if reading.saturated:
            raise RigError("calibration: a saturated reading cannot be used (lower the gain or add attenuation)")
        result = estimate(reading.counts, reading.gain_x, reading.t_int_ms, nominal)
        if not result.irradiance_mw_cm2:
            raise RigError(f"calibration: no light measured for the {nm:g} nm reference (is the source on?)")
        measured.append(float(result.irradiance_mw_cm2))
    return measured


def fit_scale(references_mw_cm2: Sequence[float], measured_mw_cm2: Sequence[float],
              reference_u_rel: float = 0.03, sources: Sequence[object] | None = None) -> ScaleFit:
    """Least-squares scale so that ``scale x measured`` matches the reference meter at every point.

    Relative errors are minimised, so low and high levels count alike. The scale's standard uncertainty
    combines the reference meter's (``reference_u_rel``: one meter, it does not average out) with the standard
    error of the fit: readings of one source (``sources``, one label per reading; default: its reference value)
    scatter by noise, which averages over them; different sources' means scatter by what the line model gets
    wrong between them, which averages only over the sources.
    """
    r = np.asarray(references_mw_cm2, dtype=float)
    m = np.asarray(measured_mw_cm2, dtype=float)
    if len(r) == 0 or len(r) != len(m):
        raise RigError("calibration: one reference value per measurement is needed")
    weights = 1.0 / r**2
    scale = float(np.sum(weights * r * m) / np.sum(weights * m * m))
    residuals = (r - scale * m) / r
    labels = list(sources) if sources is not None else [float(x) for x in r]
    groups = [residuals[[i for i, label in enumerate(labels) if label == key]] for key in dict.fromkeys(labels)]
    within = float(np.sqrt(sum(float(np.sum((g - g.mean()) ** 2)) for g in groups) / max(len(r) - len(groups), 1)))
    noise = within / math.sqrt(len(r)) if len(r) > len(groups) else 0.0
    means = np.array([g.mean() for g in groups])
    between = float(np.std(means, ddof=1)) / math.sqrt(len(means)) if len(means) > 1 else 0.0
    return ScaleFit(scale, math.hypot(reference_u_rel, max(noise, between)), list(m), [float(x) for x in residuals])


TILT_SPAN_NM = 100.0  # meter readings this far apart in wavelength fit the scale's slope with wavelength too


def fit_scale_tilt(references_mw_cm2: Sequence[float], measured_mw_cm2: Sequence[float],
                   reference_u_rel: Sequence[float], peaks_nm: Sequence[float], origin_nm: float
                   ) -> tuple[ScaleFit, float, float]:
    """The scale at ``origin_nm`` and its relative slope per 100 nm, ``reference = scale x measured x (1 + slope x
    (peak - origin) / 100)``, from meter readings at two or more wavelengths: per wavelength the mean ratio, with
    its meter's u (its own at each wavelength: a meter's calibration differs between them) and the readings'
    standard error; a weighted straight line through them (its covariance scaled by the reduced chi-square when
    above 1). Returns the scale fit (u: at ``origin_nm``), the slope and its standard u."""
    r, m = np.asarray(references_mw_cm2, float), np.asarray(measured_mw_cm2, float)
    ratio, x = r / m, (np.asarray(peaks_nm, float) - origin_nm) / 100.0
    u_meter = np.asarray(reference_u_rel, float)
    groups = sorted(set(np.round(x, 4)))
    y, u, xs = [], [], []
    for g in groups:
        at = np.round(x, 4) == g
        mean = float(np.mean(ratio[at]))
        sem = float(np.std(ratio[at], ddof=1)) / math.sqrt(int(at.sum())) if at.sum() > 1 else 0.0
        y.append(mean)
        u.append(math.hypot(float(np.sqrt(np.mean(u_meter[at] ** 2))) * mean, sem))
        xs.append(float(g))
    design = np.column_stack([np.ones(len(xs)), xs])
    w = 1.0 / np.asarray(u) ** 2
    cov = np.linalg.inv(design.T @ (w[:, None] * design))
    a, b = cov @ (design.T @ (w * np.asarray(y)))
    if len(xs) > 2:
        chi2 = float(np.sum(w * (np.asarray(y) - design @ np.array([a, b])) ** 2))
        cov = cov * max(1.0, chi2 / (len(xs) - 2))
    slope = float(b / a)
    u_slope = math.sqrt(max(cov[1, 1] - 2 * slope * cov[0, 1] + slope**2 * cov[0, 0], 0.0)) / a
    predicted = a * m * (1 + slope * x)
    residuals = [float(v) for v in (r - predicted) / r]
    return ScaleFit(float(a), math.sqrt(cov[0, 0]) / a, list(m), residuals), slope, u_slope


def take_readings(bench, count: int) -> list[Reading]:
    """``count`` readings from a bench (auto-ranged as its config says)."""
    readings = []
    for _ in range(count):
        reading = bench.read_spectrum()
        readings.append(Reading(tuple(reading.counts), reading.gain_x, reading.t_int_ms, reading.saturated))
    return readings


def mean_dark(readings: Sequence[Reading]) -> list[float]:
    """Mean raw counts per channel over dark readings (all at the same settings)."""
    if not readings:
        raise RigError("calibration: no dark readings")
    settings = {(r.gain_x, r.t_int_ms) for r in readings}
    if len(settings) > 1:
        raise RigError("calibration: dark readings must share gain and integration time (auto-range off)")
    return [float(np.mean([r.counts[i] for r in readings])) for i in range(len(readings[0].counts))]


@dataclass(frozen=True)
class ThermistorFit:
    """A fitted thermistor model and how well it reproduces its own points."""

    model: str  # "beta" or "steinhart-hart"
    coefficients: dict[str, float]
    residuals_c: list[float]

    def temperature_c(self, r_ohm: float) -> float:
        c = self.coefficients
        if self.model == "beta":
            return 1.0 / (1.0 / (c["t0_c"] + KELVIN) + math.log(r_ohm / c["r0_ohm"]) / c["beta_k"]) - KELVIN
        ln_r = math.log(r_ohm)
        return 1.0 / (c["sh_a"] + c["sh_b"] * ln_r + c["sh_c"] * ln_r**3) - KELVIN


def fit_thermistor(reference_c: Sequence[float], resistance_ohm: Sequence[float], model: str = "auto",
                   t0_c: float = 25.0) -> ThermistorFit:
    """Fit Beta (2+ points) or Steinhart-Hart (3+ points; ``auto`` picks it when there are 3 or more)."""
    t = np.asarray(reference_c, dtype=float) + KELVIN
    ln_r = np.log(np.asarray(resistance_ohm, dtype=float))
    if len(t) < 2 or len(t) != len(ln_r):
        raise RigError("thermistor calibration: at least two (temperature, resistance) points are needed")
    if len(set(np.round(t, 3))) < len(t):
        raise RigError("thermistor calibration: the reference temperatures must differ")
    if model == "auto":
        model = "steinhart-hart" if len(t) >= 3 else "beta"
    if model == "steinhart-hart":
        if len(t) < 3:
            raise RigError("thermistor calibration: Steinhart-Hart needs at least three points")
        design = np.column_stack([np.ones_like(ln_r), ln_r, ln_r**3])
        (a, b, c), *_ = np.linalg.lstsq(design, 1.0 / t, rcond=None)
        fit = ThermistorFit("steinhart-hart", {"sh_a": float(a), "sh_b": float(b), "sh_c": float(c)}, [])
    elif model == "beta":
        # 1/T = 1/T0 + (ln R - ln R0)/B is linear in ln R: 1/T = c0 + c1 ln R, B = 1/c1, R0 at T0 from c0
        c1, c0 = np.polyfit(ln_r, 1.0 / t, 1)
        beta_k = 1.0 / float(c1)
        fitted_r0 = math.exp((1.0 / (t0_c + KELVIN) - float(c0)) * beta_k)
        fit = ThermistorFit("beta", {"r0_ohm": fitted_r0, "t0_c": t0_c, "beta_k": beta_k}, [])
    else:
        raise RigError(f"thermistor calibration: model must be auto, beta or steinhart-hart (got {model!r})")
    residuals = [fit.temperature_c(float(math.exp(lr))) - (tk - KELVIN) for lr, tk in zip(ln_r, t, strict=True)]
    return ThermistorFit(fit.model, fit.coefficients, residuals)
