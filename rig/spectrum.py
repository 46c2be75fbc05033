"""From one 10-channel AS7341 reading to peak wavelengths and irradiance, with uncertainty.

Ten broad channels are not a spectrometer, so rig fits a *model* through the
channel responsivity curves (``calibration/responsivity.csv``): at most one red
LED line (peak searched in 590-720 nm) and at most one NIR line (760-960 nm),
each a Gaussian of unknown peak, width and irradiance. F1-F8's leakage of NIR
light is part of the table, so it is accounted for by the fit itself.

Method, per reading (numpy + scipy; about 3 ms on a laptop core, fine per sample on the Pi):

1. Refuse a saturated reading: it returns an :class:`Estimate` with the single
   flag ``saturated`` and no values (no exception: a logger keeps going, and
   the dose integral bridges the gap, see :mod:`rig.dose`).
2. Subtract the dark counts and convert to *basic counts*, raw / (gain ratio vs
   64x x t_int in ms). Noise model per channel, in raw counts: shot (variance =
   expected counts), read noise 1 count, the dark baseline's own 1 count and
   quantisation; plus a 2 % model error (the table is a model of the real
   curves). Weights come from the best model of a first pass (not from the
   observed counts, which would bias weak readings).
3. Grid search: for every (peak, FWHM) of a band's grid the irradiances are a
   weighted *linear* least-squares problem, so each band is profiled exactly
   over its grid (the other band's line held at its best shape). Red FWHM is
   free in 10-40 nm; NIR FWHM in 20-50 nm (it hardly matters: only the broad NIR
   and Clear channels see that band).
4. Band presence: a band is present when dropping it raises chi-square by at
   least 25 s^2 (a 5-sigma likelihood-ratio test, which also covers the search
   over the peak) and it carries at least 2 % of the total irradiance.
5. Refinement: ``scipy.optimize.least_squares`` over the present bands'
   (irradiance, peak, FWHM) from the grid's best point (NIR width held).

Uncertainties are *expanded*, coverage factor k = 2 (about 95 %), in the units
of the value:

- peak: the profile-likelihood interval (every grid peak whose best fit over
  width and irradiances is within ``4 s^2`` of the minimum, where ``s^2`` is
  the reduced chi-square when above 1; edges interpolated), as the larger
  distance from the reported peak to its edges, plus a floor for the table's
  own accuracy (0.5 nm red, 10 nm NIR) in quadrature. The profile, not the
  Jacobian, because peak and width trade off along a curved valley: above
  ~665 nm only F7, F8 and Clear see the line (F6 sees nothing), so a broader
  line a few nm further out fits almost as well and the interval widens to
  about +/-6 nm when the width is unknown. The NIR channel's response is
  symmetric about 910 nm, so an NIR line can fit at two peaks (880 and 940 nm
  look alike): when the accepted NIR peaks form more than one island, the
  reported peak is the middle of their hull and the uncertainty its half
  width. The NIR peak always carries the flag ``nir_unresolved``;
- irradiance: the larger of 2x the Jacobian standard error (scaled by s) and
  the spread of the irradiance over the accepted (peak, width) set, combined
  with ``2 x scale_u_rel`` of the value (the calibration's scale uncertainty,
  fully correlated between the bands). An absent band reads 0 with an upper
  limit as its uncertainty, which also enters the total's.

Irradiance is at the *wrap surface*: at the sensor x ``scale`` / ``transmission``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
from scipy.optimize import least_squares

from rig.responsivity import CHANNELS, Responsivity, full_scale_counts, gain_ratio

RED_PEAKS_NM = np.arange(590.0, 720.5, 1.0)
# NIR search range: wrap NIR LEDs sit at 780-950 nm. The NIR channel's response is symmetric about 910 nm, and the
# F-leak and Clear responses are flat there, so a line at 850 nm and one at 970 nm look alike: searching beyond 960 nm
# would make every NIR peak ambiguous.
NIR_PEAKS_NM = np.arange(760.0, 960.5, 2.0)
RED_FWHM_NM = tuple(float(w) for w in range(10, 42, 2))
NIR_FWHM_NM = (20.0, 30.0, 40.0, 50.0)
RED_FWHM_BOUNDS_NM = (10.0, 40.0)
K = 2.0  # coverage factor of every stated uncertainty
READ_NOISE_COUNTS = 1.0
DARK_NOISE_COUNTS = 1.0  # uncertainty of the subtracted dark baseline, raw counts
MODEL_ERROR_REL = 0.02  # the table is a model of the real curves: 2 % per channel
DETECT_DCHI2 = 25.0  # a band is present when dropping it costs this much chi-square (x s^2): 5 sigma
MIN_SHARE = 0.02  # ...and it carries at least 2 % of the total irradiance
WEAK_SNR = 5.0  # no channel this many sigma above dark: nothing to fit ("too_weak")
FIT_POOR_REDUCED_CHI2 = 16.0  # residuals 4x the noise model: the two-line model does not describe the light
PEAK_FLOOR_NM = {"red": 0.5, "nir": 10.0}  # the table's own accuracy, added in quadrature
NOMINAL_LINES = {"red": (660.0, 20.0), "nir": (850.0, 30.0)}  # shapes for an absent band's upper limit
FLAGS = ("saturated", "too_weak", "red_absent", "nir_absent", "nir_unresolved", "fit_poor")
_FWHM_PER_SIGMA = 2.3548200450309493


@dataclass(frozen=True)
class Calibration:
    """How counts become irradiance at the wrap surface.

    ``scale`` multiplies the table's irradiance (set by calibration against a
    reference meter; 1.0 = datasheet nominal); ``scale_u_rel`` is its *standard*
    relative uncertainty (0.08 for the uncalibrated datasheet-nominal table: k=2 gives +/-16 %);
    ``transmission`` is the jig attenuator's (irradiance at the surface = at the
    sensor / transmission); ``dark_counts`` are raw counts per channel (CHANNELS
    order) to subtract, i.e. the run's dark baseline.
    """

    responsivity: Responsivity
    transmission: float = 0.01
    scale: float = 1.0
    scale_u_rel: float = 0.08
    dark_counts: tuple[float, ...] = (0.0,) * 10
    id: str = "nominal-datasheet"
    calibrated: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.transmission <= 1:
            raise ValueError(f"transmission must be in (0, 1], got {self.transmission!r}")
        if len(self.dark_counts) != len(CHANNELS):
            raise ValueError(f"dark_counts needs {len(CHANNELS)} values (CHANNELS order), got {len(self.dark_counts)}")

    def with_dark(self, dark_counts: Sequence[float]) -> Calibration:
        """The same calibration with this dark baseline (raw counts, CHANNELS order)."""
        return replace(self, dark_counts=tuple(float(d) for d in dark_counts))


@dataclass
class Estimate:
    """Peaks (nm) and irradiance at the wrap surface (mW/cm2), each with an expanded (k=2) uncertainty.

    Values are None when not measured (a refused saturated reading, an absent
    band's peak). ``residual_rel`` is the fit's RMS residual relative to the RMS
    signal (basic counts; about 0.01 for a good fit).
    """

    red_peak_nm: float | None = None
    red_peak_u_nm: float | None = None
    nir_peak_nm: float | None = None
    nir_peak_u_nm: float | None = None
    red_irradiance_mw_cm2: float | None = None
    red_irradiance_u_mw_cm2: float | None = None
    nir_irradiance_mw_cm2: float | None = None
    nir_irradiance_u_mw_cm2: float | None = None
    irradiance_mw_cm2: float | None = None
    irradiance_u_mw_cm2: float | None = None
    residual_rel: float | None = None
    flags: list[str] = field(default_factory=list)

    KEYS: ClassVar[tuple[str, ...]] = (
        "red_peak_nm", "red_peak_u_nm", "nir_peak_nm", "nir_peak_u_nm", "red_irradiance_mw_cm2",
        "red_irradiance_u_mw_cm2", "nir_irradiance_mw_cm2", "nir_irradiance_u_mw_cm2", "irradiance_mw_cm2",
        "irradiance_u_mw_cm2", "residual_rel")

    def as_dict(self) -> dict[str, object]:
        """Flat CSV row: the values above (rounded, None when absent) and ``flags`` joined with ';'."""
        row: dict[str, object] = {}
        for key in self.KEYS:
            value = getattr(self, key)
            row[key] = None if value is None else round(float(value), 4 if key != "residual_rel" else 5)
        row["flags"] = ";".join(self.flags)
        return row


# --- line shapes --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Grid:
    peaks_nm: np.ndarray  # one per line
    fwhm_nm: np.ndarray
    responses: np.ndarray  # lines x 10: raw counts per (uW/cm2) per ms at 64x = basic counts per uW/cm2


@lru_cache(maxsize=4)
def _grids(responsivity: Responsivity) -> tuple[_Grid, _Grid]:
    def build(peaks: np.ndarray, widths: tuple[float, ...]) -> _Grid:
        rows = [responsivity.line_responses(peaks, width) for width in widths]
        return _Grid(np.tile(peaks, len(widths)), np.repeat(np.asarray(widths, float), len(peaks)), np.vstack(rows))
    return build(RED_PEAKS_NM, RED_FWHM_NM), build(NIR_PEAKS_NM, NIR_FWHM_NM)


def _line(responsivity: Responsivity, peak_nm: float, fwhm_nm: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A Gaussian line's response (basic counts per uW/cm2, as ``line_response``) and its d/dpeak, d/dFWHM."""
    wl = responsivity.wavelengths_nm
    sigma = fwhm_nm / _FWHM_PER_SIGMA
    lo, hi = np.searchsorted(wl, (peak_nm - 7 * sigma, peak_nm + 7 * sigma))
    x = wl[lo:hi] - peak_nm
    g = np.exp(-0.5 * (x / sigma) ** 2)
    matrix = responsivity.matrix[lo:hi]
    total = g.sum()
    response = g @ matrix / total
    dg_peak = g * x / sigma**2
    dg_sigma = g * x**2 / sigma**3
    d_peak = dg_peak @ matrix / total - response * dg_peak.sum() / total
    d_fwhm = (dg_sigma @ matrix / total - response * dg_sigma.sum() / total) / _FWHM_PER_SIGMA
    return response, d_peak, d_fwhm


# --- linear fits over a grid --------------------------------------------------------------------------------------
def _fit_one(grid: _Grid, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every grid line alone against ``y``: its best amplitude (>= 0) and chi-square."""
    a = (grid.responses**2) @ w
    b = grid.responses @ (w * y)
    amplitude = np.maximum(b / a, 0.0)
    return amplitude, float(y @ (w * y)) - 2 * amplitude * b + amplitude**2 * a


def _fit_joint(grid: _Grid, other: np.ndarray, y: np.ndarray, w: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every grid line together with the fixed line ``other``: both amplitudes (>= 0) and chi-square."""
    l1 = grid.responses
    a11 = (l1**2) @ w
    a12 = l1 @ (w * other)
    a22 = float(other @ (w * other))
    b1 = l1 @ (w * y)
    b2 = float(other @ (w * y))
    det = a11 * a22 - a12**2
    with np.errstate(divide="ignore", invalid="ignore"):
        x1 = (a22 * b1 - a12 * b2) / det
        x2 = (a11 * b2 - a12 * b1) / det
    bad = ~np.isfinite(x1) | ~np.isfinite(x2) | (x1 < 0) | (x2 < 0)
    if np.any(bad):  # the non-negative optimum is on an edge: the better of "this line alone" / "other alone"
        alone1 = np.maximum(b1 / a11, 0.0)
        chi_alone1 = -2 * alone1 * b1 + alone1**2 * a11
        alone2 = max(b2 / a22, 0.0) if a22 > 0 else 0.0
        chi_alone2 = -2 * alone2 * b2 + alone2**2 * a22
        first = chi_alone1 <= chi_alone2
        x1 = np.where(bad, np.where(first, alone1, 0.0), x1)
        x2 = np.where(bad, np.where(first, 0.0, alone2), x2)
    chi2 = float(y @ (w * y)) - 2 * (x1 * b1 + x2 * b2) + x1**2 * a11 + 2 * x1 * x2 * a12 + x2**2 * a22
    return x1, x2, np.maximum(chi2, 0.0)


@dataclass
class _Profile:
    """A band's grid profile: chi-square and amplitudes per grid line, with the other band held."""

    grid: _Grid
    chi2: np.ndarray
    amplitude: np.ndarray
    total: np.ndarray  # both bands' amplitude sum per line

    @property
    def best(self) -> int:
        return int(np.argmin(self.chi2))


def _profiles(y: np.ndarray, w: np.ndarray, grids: tuple[_Grid, _Grid]) -> dict[str, Any]:
    """Best lines of every model (none, red only, NIR only, both) and each band's profile in the both-model."""
    red_grid, nir_grid = grids
    red_alone, red_alone_chi2 = _fit_one(red_grid, y, w)
    nir_alone, nir_alone_chi2 = _fit_one(nir_grid, y, w)
    # alternate: the red band's best line given the NIR one, and back (converges in a couple of rounds)
    nir_best = int(np.argmin(nir_alone_chi2))
    red_best = int(np.argmin(red_alone_chi2))
    for _ in range(3):
        r1, r2, red_chi2 = _fit_joint(red_grid, nir_grid.responses[nir_best], y, w)
        red_best = int(np.argmin(red_chi2))
        n1, n2, nir_chi2 = _fit_joint(nir_grid, red_grid.responses[red_best], y, w)
        new_nir = int(np.argmin(nir_chi2))
        if new_nir == nir_best:
            break
        nir_best = new_nir
    r1, r2, red_chi2 = _fit_joint(red_grid, nir_grid.responses[nir_best], y, w)
    return {
        "none": float(y @ (w * y)),
        "red": _Profile(red_grid, red_alone_chi2, red_alone, red_alone),
        "nir": _Profile(nir_grid, nir_alone_chi2, nir_alone, nir_alone),
        "both_red": _Profile(red_grid, red_chi2, r1, r1 + r2),
        "both_nir": _Profile(nir_grid, nir_chi2, n1, n1 + n2),
        "both_amplitudes": (float(r1[int(np.argmin(red_chi2))]), float(r2[int(np.argmin(red_chi2))])),
    }


def _interval(profile: _Profile, threshold: float) -> tuple[float, float, bool, np.ndarray]:
    """Accepted peak interval (edges interpolated), whether it is one island, and the accepted grid lines."""
    peaks = np.unique(profile.grid.peaks_nm)
    per_peak = np.full(peaks.shape, np.inf)
    np.minimum.at(per_peak, np.searchsorted(peaks, profile.grid.peaks_nm), profile.chi2)
    limit = float(per_peak.min()) + threshold
    inside = np.flatnonzero(per_peak <= limit)
    first, last = int(inside[0]), int(inside[-1])

    def edge(i: int, j: int) -> float:  # crossing of the limit between accepted i and rejected neighbour j
        if not 0 <= j < len(peaks):
            return float(peaks[i])
        fraction = (limit - per_peak[i]) / (per_peak[j] - per_peak[i])
        return float(peaks[i] + np.clip(fraction, 0.0, 1.0) * (peaks[j] - peaks[i]))

    one_island = bool(np.all(np.diff(inside) == 1))
    return edge(first, first - 1), edge(last, last + 1), one_island, profile.chi2 <= limit


# --- the estimate -----------------------------------------------------------------------------------------------
def estimate(counts: Sequence[float], gain_x: float, t_int_ms: float, calibration: Calibration,
             saturated: bool = False, full_scale: int | None = None) -> Estimate:
    """Peaks and irradiance at the wrap surface from one reading.

    ``counts``: raw counts in CHANNELS order (F1..F8, Clear, NIR); ``gain_x``:
    nominal gain (0.5 .. 512); ``t_int_ms``: integration time (ms);
    ``saturated``: the sensor's saturation flag; ``full_scale``: digital full
    scale (counts), if given any channel at or above it counts as saturated.
    A saturated reading is refused: the result has only the flag ``saturated``.
    """
    raw = np.asarray(counts, dtype=float)
    if raw.shape != (len(CHANNELS),):
        raise ValueError(f"need {len(CHANNELS)} counts in the order {', '.join(CHANNELS)}, got {raw.shape}")
    if not t_int_ms > 0:
        raise ValueError(f"integration time must be > 0 ms, got {t_int_ms!r}")
    if saturated or (full_scale is not None and raw.max() >= full_scale) or raw.max() >= 65535:
        return Estimate(flags=["saturated"])
    responsivity = calibration.responsivity
    per_basic = gain_ratio(gain_x) * t_int_ms  # raw counts per basic count
    y = (raw - np.asarray(calibration.dark_counts, dtype=float)) / per_basic
    to_mw = calibration.scale / calibration.transmission / 1000.0  # uW/cm2 at the sensor -> mW/cm2 at the surface
    grids = _grids(responsivity)

    def weights(model_basic: np.ndarray) -> np.ndarray:
        raw_expected = np.maximum(model_basic * per_basic, 0.0) + float(np.mean(calibration.dark_counts))
        variance = (raw_expected + READ_NOISE_COUNTS**2 + DARK_NOISE_COUNTS**2 + 1 / 12) / per_basic**2
        return 1.0 / (variance + (MODEL_ERROR_REL * model_basic) ** 2)

    w = weights(np.maximum(y, 0.0))
    if np.all(y * np.sqrt(w) < WEAK_SNR):
        return _finish(y, w, responsivity, {}, to_mw, calibration, ["too_weak"])

    # first pass with weights from the observed counts, second with weights from its best model
    fits = _profiles(y, w, grids)
    red_grid, nir_grid = grids
    both_red = fits["both_red"]
    best_model = both_red.amplitude[both_red.best] * red_grid.responses[both_red.best] \
        + (both_red.total[both_red.best] - both_red.amplitude[both_red.best]) \
        * nir_grid.responses[fits["both_nir"].best]
    w = weights(best_model)
    fits = _profiles(y, w, grids)

    chi2_both = float(fits["both_red"].chi2.min())
    chi2_red = float(fits["red"].chi2.min())
    chi2_nir = float(fits["nir"].chi2.min())
    s2_both = max(1.0, chi2_both / (len(CHANNELS) - 6))
    red_amp, nir_amp = fits["both_amplitudes"]
    share = max(red_amp + nir_amp, 1e-30)
    red_present = chi2_nir - chi2_both >= DETECT_DCHI2 * s2_both and red_amp >= MIN_SHARE * share
    nir_present = chi2_red - chi2_both >= DETECT_DCHI2 * s2_both and nir_amp >= MIN_SHARE * share
    if not (red_present or nir_present):
        # neither is needed next to the other: keep the single band that explains the light best, if significant
        chi2_single = min(chi2_red, chi2_nir)
        if fits["none"] - chi2_single >= DETECT_DCHI2 * max(1.0, chi2_single / (len(CHANNELS) - 3)):
            red_present, nir_present = chi2_red <= chi2_nir, chi2_nir < chi2_red

    present = {}
    if red_present and nir_present:
        present = {"red": fits["both_red"], "nir": fits["both_nir"]}
    elif red_present:
        present = {"red": fits["red"]}
    elif nir_present:
        present = {"nir": fits["nir"]}
    return _finish(y, w, responsivity, present, to_mw, calibration, [])


def _finish(y: np.ndarray, w: np.ndarray, responsivity: Responsivity, present: dict[str, _Profile],
            to_mw: float, calibration: Calibration, flags: list[str]) -> Estimate:
    """Refine the present bands, state their uncertainties and upper limits for the absent ones."""
    bands = [b for b in ("red", "nir") if b in present]
    sw = np.sqrt(w)
    # parameters per band: amplitude (uW/cm2 at the sensor), peak, FWHM (the NIR FWHM is held)
    start, lower, upper = [], [], []
    nir_fwhm = 30.0
    for band in bands:
        profile = present[band]
        i = profile.best
        start += [max(float(profile.amplitude[i]), 1e-9), float(profile.grid.peaks_nm[i])]
        peaks = RED_PEAKS_NM if band == "red" else NIR_PEAKS_NM
        lower += [0.0, float(peaks[0])]
        upper += [np.inf, float(peaks[-1])]
        if band == "red":
            start.append(float(profile.grid.fwhm_nm[i]))
            lower.append(RED_FWHM_BOUNDS_NM[0])
            upper.append(RED_FWHM_BOUNDS_NM[1])
        else:
            nir_fwhm = float(profile.grid.fwhm_nm[i])

    def unpack(theta: np.ndarray) -> list[tuple[str, float, float, float, int]]:
        out, k = [], 0
        for band in bands:
            if band == "red":
                out.append((band, theta[k], theta[k + 1], theta[k + 2], k))
                k += 3
            else:
                out.append((band, theta[k], theta[k + 1], nir_fwhm, k))
                k += 2
        return out

    def model_and_jacobian(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        model = np.zeros(len(CHANNELS))
        jac = np.zeros((len(CHANNELS), len(theta)))
        for band, amplitude, peak, fwhm, k in unpack(theta):
            response, d_peak, d_fwhm = _line(responsivity, peak, fwhm)
            model += amplitude * response
            jac[:, k] = response
            jac[:, k + 1] = amplitude * d_peak
            if band == "red":
                jac[:, k + 2] = amplitude * d_fwhm
        return model, jac

    theta = np.asarray(start, float)
    if bands:
        theta = np.clip(theta, lower, upper)
        fit = least_squares(lambda t: (model_and_jacobian(t)[0] - y) * sw, theta,
                            jac=lambda t: model_and_jacobian(t)[1] * sw[:, None], bounds=(lower, upper),
                            method="trf", x_scale="jac")
        theta = fit.x
    model, jac = model_and_jacobian(theta)
    chi2 = float(np.sum(((y - model) * sw) ** 2))
    dof = max(1, len(CHANNELS) - len(theta))
    s2 = max(1.0, chi2 / dof)
    weighted_jac = jac * sw[:, None]
    cov = np.linalg.pinv(weighted_jac.T @ weighted_jac) * s2 if bands else np.zeros((0, 0))

    result = Estimate(flags=list(flags))
    signal_rms = float(np.sqrt(np.mean(y**2)))
    if signal_rms > 0 and "too_weak" not in flags:
        result.residual_rel = float(np.sqrt(np.mean((y - model) ** 2)) / signal_rms)
    if chi2 / dof > FIT_POOR_REDUCED_CHI2:
        result.flags.append("fit_poor")

    scale_u = K * calibration.scale_u_rel
    amplitudes = {"red": 0.0, "nir": 0.0}
    stat_u = {"red": 0.0, "nir": 0.0}
    spreads = []
    threshold = K**2 * s2
    for band, amplitude, peak, _fwhm, k in unpack(theta):
        profile = present[band]
        low, high, one_island, accepted = _interval(profile, threshold)
        if one_island or band == "red":
            value = float(peak)
            half = max(value - low, high - value)
        else:  # two islands (880 vs 940 nm): the middle of the hull, with its half width
            value = 0.5 * (low + high)
            half = 0.5 * (high - low)
        setattr(result, f"{band}_peak_nm", value)
        setattr(result, f"{band}_peak_u_nm", math.hypot(half, PEAK_FLOOR_NM[band]))
        amplitudes[band] = float(amplitude)
        spread = float(np.max(np.abs(profile.amplitude[accepted] - amplitude))) if np.any(accepted) else 0.0
        stat_u[band] = max(K * math.sqrt(max(cov[k, k], 0.0)), spread)
        if len(bands) == 2 and np.any(accepted):
            spreads.append(float(np.max(np.abs(profile.total[accepted] - profile.total[profile.best]))))
    if "nir" in bands:
        result.flags.append("nir_unresolved")

    # an absent band: 0, with an upper limit from a nominal line fitted (free sign) next to the present ones
    absent = [b for b in ("red", "nir") if b not in bands]
    limits = _upper_limits(y, sw, responsivity, model, jac, bands, absent, s2)
    for band in absent:
        result.flags.append(f"{band}_absent")
        stat_u[band] = limits[band]

    for band in ("red", "nir"):
        value = amplitudes[band] * to_mw
        setattr(result, f"{band}_irradiance_mw_cm2", value)
        setattr(result, f"{band}_irradiance_u_mw_cm2", math.hypot(stat_u[band] * to_mw, scale_u * value))
    total = amplitudes["red"] + amplitudes["nir"]
    amplitude_index = [k for _band, _a, _p, _f, k in unpack(theta)]
    total_var = float(sum(cov[i, j] for i in amplitude_index for j in amplitude_index)) if bands else 0.0
    total_stat = max(K * math.sqrt(max(total_var, 0.0)), max(spreads, default=0.0))
    if len(bands) == 1:
        total_stat = stat_u[bands[0]]
    total_stat = math.sqrt(total_stat**2 + sum(stat_u[b] ** 2 for b in absent))
    result.irradiance_mw_cm2 = total * to_mw
    result.irradiance_u_mw_cm2 = math.hypot(total_stat * to_mw, scale_u * total * to_mw)
    return result


def _upper_limits(y: np.ndarray, sw: np.ndarray, responsivity: Responsivity, model: np.ndarray, jac: np.ndarray,
                  bands: list[str], absent: list[str], s2: float) -> dict[str, float]:
    """k=2 upper limit (uW/cm2 at the sensor) of each absent band: a nominal line's free-sign amplitude."""
    if not absent:
        return {}
    present_columns = [jac[:, i] for i in range(jac.shape[1])] if bands else []
    nominal = [responsivity.line_response(*NOMINAL_LINES[b]) for b in absent]
    design = np.column_stack([*present_columns, *nominal]) * sw[:, None]
    target = (y - model) * sw  # linearised around the present bands' fit
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    cov = np.linalg.pinv(design.T @ design) * s2
    out = {}
    for n, band in enumerate(absent):
        i = len(present_columns) + n
        out[band] = max(float(coef[i]), 0.0) + K * math.sqrt(max(float(cov[i, i]), 0.0))
    return out


# --- many rows --------------------------------------------------------------------------------------------------
def _truthy(value: object) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "y")


def analyze_counts(rows: Iterable[Mapping[str, Any]], calibration: Calibration | None = None,
                   dark_counts: Sequence[float] | None = None) -> list[dict[str, Any]]:
    """Estimate every row of a counts table; each result is the row plus :meth:`Estimate.as_dict`.

    Rows need F1..NIR (raw counts), ``gain_x`` and ``t_int_ms``; optional
    ``saturated`` (true/1/yes), ``full_scale`` or ``atime`` + ``astep`` (for the
    full-scale check) and ``transmission`` (used when no calibration is given:
    then the datasheet-nominal calibration applies and rows get the flag
    ``uncalibrated``). ``dark_counts`` (CHANNELS order) overrides the
    calibration's dark baseline. Values may be strings (from ``csv.DictReader``).
    """
    responsivity = calibration.responsivity if calibration is not None else Responsivity.load()
    out: list[dict[str, Any]] = []
    for row in rows:
        cal = calibration
        if cal is None:
            cal = Calibration(responsivity, transmission=float(row.get("transmission") or 0.01))
        if dark_counts is not None:
            cal = cal.with_dark(dark_counts)
        full_scale = None
        if row.get("full_scale") not in (None, ""):
            full_scale = int(float(row["full_scale"]))
        elif row.get("atime") not in (None, "") and row.get("astep") not in (None, ""):
            full_scale = full_scale_counts(int(float(row["atime"])), int(float(row["astep"])))
        result = estimate([float(row[c]) for c in CHANNELS], float(row["gain_x"]), float(row["t_int_ms"]), cal,
                          _truthy(row.get("saturated", "")), full_scale).as_dict()
        if not cal.calibrated:
            result["flags"] = ";".join(f for f in (result["flags"], "uncalibrated") if f)
        out.append({**row, **result})
    return out
