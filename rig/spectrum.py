"""From one 10-channel AS7341 reading to peak wavelengths and irradiance, with uncertainty.

Ten broad channels are not a spectrometer, so rig fits a *model* through the
channel responsivity table (``calibration/responsivity.csv``: the manufacturer's
typical curves, corrected per sensor by a spectral calibration when there is
one): a list of *lines* (:data:`DEFAULT_LINES`: one red line searched in
590-720 nm, one NIR line in 760-960 nm), each a Gaussian of unknown peak,
width and irradiance.

The table is the *typical* part; the sensor in the jig is one unit of a
production spread (filter centres +/-10 nm, sensitivities unspecified, shapes
and out-of-band response that differ). So every channel carries a documented
**model uncertainty** (:class:`ModelUncertainty`, standard, per channel) on top of the
counting noise, with three terms evaluated at the current model:

- relative: ``rel_c x model_c`` (channel sensitivity);
- filter shift: ``shift_nm_c x |d model_c / d lambda|`` (the filter's centre is not where the table says);
- out-of-band: ``oob_c x max(table_c) x total line irradiance`` (a response where the table predicts
  about 0, e.g. F1-F6 under red light).

Method, per reading (numpy + scipy):

1. Refuse a saturated reading (the single flag ``saturated``, no values).
2. Subtract dark counts, convert to basic counts (raw / (gain ratio vs 64x x t_int ms)). Noise per channel,
   in raw counts: shot (expected counts), read noise 1, the dark baseline's 1, quantisation. Weights =
   1 / (noise + model uncertainty), evaluated at the best model of the previous pass (three passes).
3. Grid search: for every (peak, FWHM) of a line's grid, the irradiances of all lines are a non-negative
   weighted linear least-squares problem (solved exactly, all supports); each line is profiled over its
   grid with the others held at their best shape.
4. Presence, by the significance of the line's own signal: a line is present when its irradiance is at
   least ``DETECT_Z`` standard deviations above zero in the joint fit (model uncertainty included, never
   scaled by the goodness of fit) and carries at least 2 % of the total. A reading clearly above dark
   always keeps its most significant line, so it never reads zero. A line that is not present is *absent*
   only when its k=2 upper limit is below ``ABSENT_MW_CM2`` or ``ABSENT_SHARE`` of the light; otherwise (the
   default red + NIR lines) it is *undetermined* (flag ``<name>_undetermined``, no peak): its irradiance is the
   middle of [0, upper limit], its U reaching both ends. When a present line is refined to beyond
   ``FAR_RED_NM`` (F8's tail, Clear and NIR see it there, as they see NIR light: a 685 nm LED plus an 820 nm
   line reads like one 705 nm line) the upper limit is also taken from the fit with every line free, which
   carries that trade-off; the linearised limit at the far-red fit does not.
5. Refinement: ``scipy.optimize.least_squares`` over the present lines' (irradiance, peak, FWHM).

Uncertainties are *expanded*, k = 2, in the units of the value:

- peak: the profile-likelihood interval (grid peaks whose best fit over width and irradiances is within
  ``4 s^2`` of the minimum; ``s^2`` the reduced chi-square when above 1, so a poor fit widens it), as the
  larger distance from the reported peak to its edges, combined in quadrature with the calibration's
  peak floor (uncalibrated: the common-mode accuracy of the typical table; calibrated: the reference
  peaks' uncertainty through the fit). Because the model uncertainty includes each filter's centre
  tolerance, the interval of an uncalibrated sensor covers its filter offsets. The NIR line always carries
  ``nir_unresolved`` (only NIR and Clear see it); two islands give the hull's middle and half width.
- irradiance: the larger of 2x the standard error (scaled by s) and the spread over the accepted
  (peak, width) set, with ``2 x scale_u_rel`` of the value (the calibration's scale) in quadrature.
  An absent line reads 0 with its k=2 upper limit as uncertainty; an undetermined one half that limit +/- half.

``fit_poor``: reduced chi-square above ``FIT_POOR_REDUCED_CHI2``, i.e. residuals well beyond the noise
and the stated model uncertainty. Irradiance is at the *wrap surface*: at the sensor x ``scale`` /
``transmission``.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from scipy.optimize import least_squares

from rig.responsivity import CHANNELS, Responsivity, full_scale_counts, gain_ratio

if TYPE_CHECKING:
    from rig.line_plan import LinePlan

K = 2.0  # coverage factor of every stated uncertainty
READ_NOISE_COUNTS = 1.0
DARK_NOISE_COUNTS = 1.0  # uncertainty of the subtracted dark baseline, raw counts
DETECT_Z = 3.0  # a line is present when its irradiance is this many standard deviations above 0
MIN_SHARE = 0.02  # ...and it carries at least 2 % of the total irradiance
ABSENT_MW_CM2 = 1.0  # an undetected line is absent when its k=2 upper limit is below this (at the wrap surface)...
ABSENT_SHARE = 0.20  # ...or below this share of the total; otherwise it is undetermined
FAR_RED_NM = 695.0  # a red line fitted beyond this is seen as NIR light is (F8 tail, Clear, NIR)
WEAK_SNR = 5.0  # no channel this many sigma above dark: nothing to fit ("too_weak")
RANK_RTOL = 1e-3  # singular values below this share of the largest: a parameter the channels do not constrain
FIT_POOR_REDUCED_CHI2 = 9.0  # residuals 3x the noise + model uncertainty: the line model does not describe it
_FWHM_PER_SIGMA = 2.3548200450309493


@dataclass(frozen=True)
class LineSpec:
    """One emission line the estimator looks for: its search range and width grid."""

    name: str
    peaks_nm: tuple[float, float, float]  # first, last, step
    fwhm_nm: tuple[float, ...]
    fwhm_bounds_nm: tuple[float, float]
    fit_width: bool  # refine the width (False: held at the grid's best)
    nominal: tuple[float, float]  # (peak, FWHM) of the shape used for an absent line's upper limit
    resolved: bool = True  # False: the peak is poorly resolved by the channels (flag "<name>_unresolved")
    flag_unresolved: bool = True  # raise that flag (claimed lines: their interval says it, the flag means merged)

    @property
    def peak_grid_nm(self) -> np.ndarray:
        first, last, step = self.peaks_nm
        return np.arange(first, last + step / 2, step)


# NIR search range: wrap NIR LEDs sit at 780-950 nm; beyond 960 nm the NIR channel's response (symmetric about
# ~915 nm) would make every NIR peak ambiguous.
# Red widths: LEDs of 610-690 nm have FWHM 15-30 nm; a wider range lets a broad line at 700 nm trade against
# a 685 nm line plus NIR light.
DEFAULT_LINES = (
    LineSpec("red", (590.0, 720.0, 1.0), tuple(float(w) for w in range(16, 32, 2)), (15.0, 30.0), True,
             (660.0, 20.0)),
    LineSpec("nir", (760.0, 960.0, 2.0), (20.0, 30.0, 40.0, 50.0), (20.0, 50.0), False, (850.0, 30.0),
             resolved=False),
)


@dataclass(frozen=True)
class ModelUncertainty:
    """Standard uncertainty of the table as a model of *this* sensor, per channel (CHANNELS order).

    Defaults (uncalibrated, a part anywhere in the production spread): sensitivity 10 % (the datasheet gives
    no limit; the typical curves miss the datasheet's own typical counts by about +/-10 %), filter centre
    3 nm (datasheet +/-10 nm as a 4-sigma production limit, plus the typical curves' own shape uncertainty),
    out-of-band 2 % of the channel's peak for F1-F6, 1 % for F7, F8 and NIR (the templates keep 2-7 % out of
    band, the datasheet figure less).
    """

    rel: tuple[float, ...] = (0.10,) * 10
    shift_nm: tuple[float, ...] = (3.0,) * 8 + (0.0, 3.0)
    oob: tuple[float, ...] = (0.02,) * 6 + (0.01, 0.01, 0.0, 0.01)


@dataclass(frozen=True)
class Calibration:
    """How counts become irradiance at the wrap surface.

    ``responsivity`` is the table in use (typical, or corrected per sensor by a spectral calibration);
    ``model_u`` its model uncertainty for this sensor; ``peak_floor_nm`` the k=2 common-mode accuracy of
    each line's peak (name -> nm); ``scale`` multiplies the table's irradiance (set against a reference
    meter; 1.0 = datasheet nominal) and ``scale_u_rel`` is its *standard* relative uncertainty;
    ``transmission`` is the jig attenuator's; ``dark_counts`` raw counts per channel to subtract.
    """

    responsivity: Responsivity
    transmission: float = 0.01
    scale: float = 1.0
    scale_u_rel: float = 0.08
    dark_counts: tuple[float, ...] = (0.0,) * 10
    id: str = "nominal-datasheet"
    calibrated: bool = False
    model_u: ModelUncertainty = field(default_factory=ModelUncertainty)
    peak_floor_nm: tuple[tuple[str, float], ...] = (("red", 3.0), ("nir", 10.0))
    spectral_calibrated: bool = False
    lines: tuple[LineSpec, ...] = DEFAULT_LINES

    def __post_init__(self) -> None:
        if not 0 < self.transmission <= 1:
            raise ValueError(f"transmission must be in (0, 1], got {self.transmission!r}")
        if len(self.dark_counts) != len(CHANNELS):
            raise ValueError(f"dark_counts needs {len(CHANNELS)} values (CHANNELS order), got {len(self.dark_counts)}")

    def with_dark(self, dark_counts: Sequence[float]) -> Calibration:
        """The same calibration with this dark baseline (raw counts, CHANNELS order)."""
        return replace(self, dark_counts=tuple(float(d) for d in dark_counts))

    def floor_nm(self, line: str) -> float:
        return dict(self.peak_floor_nm).get(line, 0.0)


@dataclass
class Estimate:
    """Peaks (nm) and irradiance at the wrap surface (mW/cm2), each with an expanded (k=2) uncertainty.

    Values are None when not measured (a refused saturated reading, an absent band's peak).
    ``residual_rel`` is the fit's RMS residual relative to the RMS signal (basic counts).
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
    lines: dict[str, float | None] = field(default_factory=dict)  # claimed / group / unclaimed line columns

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
        for key, value in self.lines.items():
            row[key] = None if value is None else round(float(value), 4)
        row["flags"] = ";".join(self.flags)
        return row


# --- line shapes --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Grid:
    spec: LineSpec
    peaks_nm: np.ndarray  # one per grid line
    fwhm_nm: np.ndarray
    responses: np.ndarray  # grid lines x 10: basic counts per uW/cm2
    d_peak: np.ndarray  # d responses / d peak (per nm)


@lru_cache(maxsize=16)
def _grids(responsivity: Responsivity, lines: tuple[LineSpec, ...]) -> tuple[_Grid, ...]:
    out = []
    for spec in lines:
        peaks = spec.peak_grid_nm
        rows, derivs = [], []
        for width in spec.fwhm_nm:
            rows.append(responsivity.line_responses(peaks, width))
            derivs.append(responsivity.line_responses(peaks + 0.5, width)
                           - responsivity.line_responses(peaks - 0.5, width))
        out.append(_Grid(spec, np.tile(peaks, len(spec.fwhm_nm)), np.repeat(np.asarray(spec.fwhm_nm), len(peaks)),
                         np.vstack(rows), np.vstack(derivs)))
    return tuple(out)


@lru_cache(maxsize=16)
def _channel_peaks(responsivity: Responsivity) -> np.ndarray:
    return responsivity.matrix.max(axis=0)


def _line(responsivity: Responsivity, peak_nm: float, fwhm_nm: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A Gaussian line's response (basic counts per uW/cm2) and its d/dpeak, d/dFWHM."""
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


# --- weights ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Noise:
    per_basic: float  # raw counts per basic count
    dark_raw: float
    model_u: ModelUncertainty
    channel_peaks: np.ndarray

    def weights(self, model: np.ndarray, slope: np.ndarray, total_uw: float) -> np.ndarray:
        """1 / variance per channel (basic counts^2) at this model (``slope``: d model / d lambda)."""
        raw_expected = np.maximum(model * self.per_basic, 0.0) + self.dark_raw
        noise = (raw_expected + READ_NOISE_COUNTS**2 + DARK_NOISE_COUNTS**2 + 1 / 12) / self.per_basic**2
        u = self.model_u
        model_var = (np.asarray(u.rel) * np.maximum(model, 0.0)) ** 2 + (np.asarray(u.shift_nm) * slope) ** 2 \
            + (np.asarray(u.oob) * self.channel_peaks * max(total_uw, 0.0)) ** 2
        return 1.0 / (noise + model_var)


# --- linear fits over a grid --------------------------------------------------------------------------------------
def _nnls_batch(candidates: np.ndarray, others: Sequence[np.ndarray], y: np.ndarray, w: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative weighted least squares of ``y`` on one candidate line (rows x 10, batched) plus the fixed
    ``others`` (10 each). Exact for a few lines: the optimum is the best feasible unconstrained solution over
    all supports. Returns amplitudes (rows x n; column 0 the candidate's) and chi-square (rows).

    Only the candidate varies between rows, so each support of the others is inverted once and the candidate
    joins it by the Schur complement (no per-row solve)."""
    rows, n = candidates.shape[0], 1 + len(others)
    if n <= 2:
        return _nnls_two(candidates, others[0] if others else None, y, w)
    fixed = np.column_stack(others)  # 10 x (n-1)
    wy = w * y
    yy = float(y @ wy)
    g_ff = fixed.T @ (w[:, None] * fixed)
    b_f = fixed.T @ wy
    g_cf = candidates @ (w[:, None] * fixed)  # rows x (n-1)
    a_cc = (candidates**2) @ w
    b_c = candidates @ wy
    best_chi2 = np.full(rows, yy)
    best_x = np.zeros((rows, n))
    for size in range(0, n):
        for support in itertools.combinations(range(n - 1), size):
            idx = list(support)
            cols = [i + 1 for i in idx]
            inv = np.linalg.pinv(g_ff[np.ix_(idx, idx)]) if idx else np.zeros((0, 0))
            alone = inv @ b_f[idx]
            if idx and np.all(alone >= 0):  # the others alone (the candidate at 0): the same for every row
                chi2_alone = yy - float(alone @ b_f[idx])
                better = chi2_alone < best_chi2
                best_chi2[better] = chi2_alone
                best_x[better] = 0.0
                best_x[np.ix_(better, cols)] = alone
            g = g_cf[:, idx]
            t = g @ inv  # rows x size
            with np.errstate(all="ignore"):
                x0 = (b_c - t @ b_f[idx]) / (a_cc - np.einsum("ri,ri->r", t, g))
                xs = alone[None, :] - t * x0[:, None]
                chi2 = yy - x0 * b_c - xs @ b_f[idx]
            ok = (x0 >= 0) & np.all(xs >= 0, axis=1) & np.isfinite(chi2) & (chi2 < best_chi2)
            best_chi2[ok] = chi2[ok]
            best_x[ok] = 0.0
            best_x[ok, 0] = x0[ok]
            best_x[np.ix_(ok, cols)] = xs[ok]
    return best_x, np.maximum(best_chi2, 0.0)


def _nnls_two(candidates: np.ndarray, other: np.ndarray | None, y: np.ndarray, w: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_nnls_batch` for one candidate and at most one fixed line, in closed form (the hot path)."""
    wy = w * y
    yy = float(y @ wy)
    a11 = (candidates**2) @ w
    b1 = candidates @ wy
    alone1 = np.maximum(b1 / a11, 0.0)
    chi_alone1 = yy - alone1 * b1
    if other is None:
        return alone1[:, None], np.maximum(chi_alone1, 0.0)
    wo = w * other
    a12 = candidates @ wo
    a22 = float(other @ wo)
    b2 = float(other @ wy)
    det = a11 * a22 - a12**2
    with np.errstate(divide="ignore", invalid="ignore"):
        x1 = (a22 * b1 - a12 * b2) / det
        x2 = (a11 * b2 - a12 * b1) / det
        chi_both = yy - x1 * b1 - x2 * b2
    alone2 = max(b2 / a22, 0.0) if a22 > 0 else 0.0
    chi_alone2 = yy - alone2 * b2
    ok = np.isfinite(x1) & np.isfinite(x2) & (x1 >= 0) & (x2 >= 0)
    first = chi_alone1 <= chi_alone2
    x1 = np.where(ok, x1, np.where(first, alone1, 0.0))
    x2 = np.where(ok, x2, np.where(first, 0.0, alone2))
    chi2 = np.where(ok, chi_both, np.minimum(chi_alone1, chi_alone2))
    return np.column_stack([x1, x2]), np.maximum(chi2, 0.0)


@dataclass
class _Profile:
    """A line's grid profile: chi-square and amplitudes per grid line, the other lines held at their best."""

    grid: _Grid
    chi2: np.ndarray
    amplitude: np.ndarray  # this line's
    total: np.ndarray  # all lines' amplitude sum per grid line

    @property
    def best(self) -> int:
        return int(np.argmin(self.chi2))


def _profiles(y: np.ndarray, w: np.ndarray, grids: Sequence[_Grid], active: Sequence[int]) -> dict[int, _Profile]:
    """Profiles of the ``active`` lines fitted together (coordinate descent over the lines' grids)."""
    best = {}
    for i in active:  # start: each line alone
        _, chi2 = _nnls_batch(grids[i].responses, [], y, w)
        best[i] = int(np.argmin(chi2))
    profiles: dict[int, _Profile] = {}
    for _ in range(3):
        changed = False
        for i in active:
            others = [grids[j].responses[best[j]] for j in active if j != i]
            x, chi2 = _nnls_batch(grids[i].responses, others, y, w)
            profiles[i] = _Profile(grids[i], chi2, x[:, 0], x.sum(axis=1))
            new = int(np.argmin(chi2))
            changed |= new != best[i]
            best[i] = new
        if not changed:
            break
    return profiles


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


def _model_of(grids: Sequence[_Grid], profiles: Mapping[int, _Profile]) -> tuple[np.ndarray, np.ndarray, float]:
    """Model, its d/dlambda and total amplitude from the profiles' best joint point."""
    model, slope, total = np.zeros(len(CHANNELS)), np.zeros(len(CHANNELS)), 0.0
    for i, profile in profiles.items():
        b = profile.best
        amplitude = float(profile.amplitude[b])
        model += amplitude * grids[i].responses[b]
        slope += amplitude * grids[i].d_peak[b]
        total += amplitude
    return model, np.abs(slope), total


def _significance(y: np.ndarray, w: np.ndarray, grids: Sequence[_Grid], profiles: Mapping[int, _Profile],
                  units: Sequence[tuple[int, ...]]) -> dict[tuple[int, ...], tuple[float, float, dict[int, float]]]:
    """Each unit's (a line, or a group of lines the sensor cannot tell apart) joint amplitude, its z-score
    (summed amplitude / its standard error, no goodness-of-fit scaling) and its members' amplitudes."""
    order = list(profiles)
    design = np.column_stack([grids[i].responses[profiles[i].best] for i in order])
    gram = design.T @ (w[:, None] * design)
    cov = np.linalg.pinv(gram)
    x = cov @ (design.T @ (w * y))
    position = {i: n for n, i in enumerate(order)}
    out = {}
    for unit in units:
        at = [position[i] for i in unit if i in position]
        if not at:
            continue
        amplitude = float(sum(x[n] for n in at))
        sd = math.sqrt(max(float(sum(cov[m, n] for m in at for n in at)), 1e-300))
        out[unit] = (amplitude, amplitude / sd, {order[n]: float(x[n]) for n in at})
    return out


def _units(grids: Sequence[_Grid], plan: LinePlan | None) -> list[tuple[int, ...]]:
    """Lines judged present or absent together: each group of the plan, every other line alone."""
    index = {g.spec.name: n for n, g in enumerate(grids)}
    groups = [tuple(index[m] for m in members if m in index) for _name, members in (plan.groups if plan else ())]
    grouped = {i for group in groups for i in group}
    return [*groups, *((n,) for n in range(len(grids)) if n not in grouped)]


# --- the estimate -----------------------------------------------------------------------------------------------
def estimate(counts: Sequence[float], gain_x: float, t_int_ms: float, calibration: Calibration,
             saturated: bool = False, full_scale: int | None = None, plan: LinePlan | None = None) -> Estimate:
    """Peaks and irradiance at the wrap surface from one reading.

    ``counts``: raw counts in CHANNELS order (F1..F8, Clear, NIR); ``gain_x``: nominal gain (0.5 .. 512);
    ``t_int_ms``: integration time (ms); ``saturated``: the sensor's saturation flag; ``full_scale``:
    digital full scale (counts), if given any channel at or above it counts as saturated. A saturated
    reading is refused: the result has only the flag ``saturated``. ``plan``: the lines the claims name
    (:func:`rig.line_plan.plan_lines`); without one the calibration's lines (red + NIR) are fitted.
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
    grids = _grids(responsivity, plan.specs if plan is not None else calibration.lines)
    noise = _Noise(per_basic, float(np.mean(calibration.dark_counts)), calibration.model_u,
                   _channel_peaks(responsivity))
    zero = np.zeros(len(CHANNELS))
    w = noise.weights(np.maximum(y, 0.0), zero, 0.0)
    if np.all(y * np.sqrt(w) < WEAK_SNR):
        return _finish(y, w, grids, {}, to_mw, calibration, ["too_weak"], plan)

    everything = list(range(len(grids)))
    w = 1.0 / (1.0 / w + (0.1 * np.maximum(y, 0.0)) ** 2)  # first pass: a rough model error on the observed counts
    profiles = _profiles(y, w, grids, everything)
    for _ in range(2):  # weights from the best model (not from the observed counts, which would bias weak readings)
        w = noise.weights(*_model_of(grids, profiles))
        profiles = _profiles(y, w, grids, everything)

    significance = _significance(y, w, grids, profiles, _units(grids, plan))
    total = max(sum(max(a, 0.0) for a, _, _ in significance.values()), 1e-30)
    kept = [u for u, (a, z, _) in significance.items() if z >= DETECT_Z and a >= MIN_SHARE * total]
    flags: list[str] = []
    if not kept:  # clearly above dark: keep the most significant line rather than report no light
        kept = [max(significance, key=lambda u: significance[u][1])]
    present = []
    for unit in kept:  # a group's members: those with light (the sum is what is significant)
        members = significance[unit][2]
        present += [i for i, a in members.items() if a > 0] or [max(members, key=members.get)]
    joint = None
    if len(present) < len(grids):
        if plan is None:
            everything_w, everything_profiles = w, profiles

            def joint() -> dict[str, float]:
                return _joint_limits_mw(y, everything_w, grids, everything_profiles, present, to_mw, calibration)
        profiles = _profiles(y, w, grids, present)
        w = noise.weights(*_model_of(grids, profiles))
        profiles = _profiles(y, w, grids, present)
    return _finish(y, w, grids, profiles, to_mw, calibration, flags, plan, joint)


def _joint_limits_mw(y: np.ndarray, w: np.ndarray, grids: Sequence[_Grid], profiles: Mapping[int, _Profile],
                     present: Sequence[int], to_mw: float, calibration: Calibration) -> dict[str, float]:
    """k=2 upper limit (mW/cm2 at the surface) of each undetected line from the refinement with *every* line
    free (its value + k=2 uncertainty, which carries the correlation with the present lines' peaks and widths:
    the linearised limit, taken at the far-red fit, does not)."""
    joint = _finish(y, w, grids, profiles, to_mw, calibration, [])
    out = {}
    for n, grid in enumerate(grids):
        if n not in present:
            name = grid.spec.name
            out[name] = (getattr(joint, f"{name}_irradiance_mw_cm2") or 0.0) \
                + (getattr(joint, f"{name}_irradiance_u_mw_cm2") or 0.0)
    return out


def _excluded(limit_mw_cm2: float, total_mw_cm2: float) -> bool:
    """An undetected line is *absent* when its k=2 upper limit excludes ``ABSENT_MW_CM2`` or ``ABSENT_SHARE`` of
    the light; otherwise it is *undetermined*: somewhere between 0 and that limit."""
    return limit_mw_cm2 < ABSENT_MW_CM2 or limit_mw_cm2 < ABSENT_SHARE * total_mw_cm2


def _finish(y: np.ndarray, w: np.ndarray, grids: Sequence[_Grid], present: Mapping[int, _Profile],
            to_mw: float, calibration: Calibration, flags: list[str], plan: LinePlan | None = None,
            joint: Callable[[], Mapping[str, float]] | None = None) -> Estimate:
    """Refine the present lines, state their uncertainties and upper limits for the undetected ones (absent or,
    without a plan, undetermined). ``joint()``: the undetected lines' upper limits (mW/cm2) from the fit with
    every line free, taken when larger, when a present line is refined to beyond ``FAR_RED_NM``: only F8's
    tail, Clear and NIR see it there, as they see NIR light, so it can stand in for an NIR line."""
    order = list(present)
    sw = np.sqrt(w)
    # parameters per line: amplitude (uW/cm2 at the sensor), peak, and FWHM when the line's width is fitted
    start, lower, upper, layout = [], [], [], []
    held_fwhm = {}
    for i in order:
        profile, spec = present[i], grids[i].spec
        b = profile.best
        peaks = spec.peak_grid_nm
        layout.append((i, len(start), spec.fit_width))
        start += [max(float(profile.amplitude[b]), 1e-9), float(profile.grid.peaks_nm[b])]
        lower += [0.0, float(peaks[0])]
        upper += [np.inf, float(peaks[-1])]
        if spec.fit_width:
            start.append(float(profile.grid.fwhm_nm[b]))
            lower.append(spec.fwhm_bounds_nm[0])
            upper.append(spec.fwhm_bounds_nm[1])
        else:
            held_fwhm[i] = float(profile.grid.fwhm_nm[b])
    responsivity = calibration.responsivity

    def model_and_jacobian(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        model = np.zeros(len(CHANNELS))
        jac = np.zeros((len(CHANNELS), len(theta)))
        for i, k, fit_width in layout:
            fwhm = theta[k + 2] if fit_width else held_fwhm[i]
            response, d_peak, d_fwhm = _line(responsivity, theta[k + 1], fwhm)
            model += theta[k] * response
            jac[:, k] = response
            jac[:, k + 1] = theta[k] * d_peak
            if fit_width:
                jac[:, k + 2] = theta[k] * d_fwhm
        return model, jac

    theta = np.asarray(start, float)
    if order:
        theta = np.clip(theta, lower, upper)
        last: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}

        def cached(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """least_squares asks for the residuals and then the Jacobian at the same point: compute once."""
            key = t.tobytes()
            if key not in last:
                last.clear()
                last[key] = model_and_jacobian(t)
            return last[key]

        fit = least_squares(lambda t: (cached(t)[0] - y) * sw, theta,
                            jac=lambda t: cached(t)[1] * sw[:, None], bounds=(lower, upper),
                            method="trf", x_scale="jac")
        theta = fit.x
    model, jac = model_and_jacobian(theta)
    chi2 = float(np.sum(((y - model) * sw) ** 2))
    weighted_jac = jac * sw[:, None]
    dof = max(1, len(CHANNELS) - _effective_parameters(weighted_jac))
    s2 = max(1.0, chi2 / dof)
    cov = np.linalg.pinv(weighted_jac.T @ weighted_jac) * s2 if order else np.zeros((0, 0))

    result = Estimate(flags=list(flags))
    signal_rms = float(np.sqrt(np.mean(y**2)))
    if signal_rms > 0 and "too_weak" not in flags:
        result.residual_rel = float(np.sqrt(np.mean((y - model) ** 2)) / signal_rms)
    if order and chi2 / dof > FIT_POOR_REDUCED_CHI2:
        result.flags.append("fit_poor")

    scale_u = K * calibration.scale_u_rel
    amplitudes = {g.spec.name: 0.0 for g in grids}
    stat_u = {g.spec.name: 0.0 for g in grids}
    spreads = []
    threshold = K**2 * s2
    for i, k, _fit_width in layout:
        profile, spec = present[i], grids[i].spec
        low, high, one_island, accepted = _interval(profile, threshold)
        peak = float(theta[k + 1])
        if one_island or spec.resolved:
            value, half = peak, max(peak - low, high - peak)
        else:  # two islands (880 vs 940 nm): the middle of the hull, with its half width
            value, half = 0.5 * (low + high), 0.5 * (high - low)
        _put(result, f"{spec.name}_peak_nm", value)
        _put(result, f"{spec.name}_peak_u_nm", math.hypot(half, calibration.floor_nm(_band_of(spec))))
        amplitudes[spec.name] = float(theta[k])
        spread = float(np.max(np.abs(profile.amplitude[accepted] - theta[k]))) if np.any(accepted) else 0.0
        stat_u[spec.name] = max(K * math.sqrt(max(cov[k, k], 0.0)), spread)
        if len(order) > 1 and np.any(accepted):
            spreads.append(float(np.max(np.abs(profile.total[accepted] - profile.total[profile.best]))))
        if not spec.resolved and spec.flag_unresolved:
            result.flags.append(f"{spec.name}_unresolved")

    absent = [g for n, g in enumerate(grids) if n not in present]
    limits = _upper_limits(y, sw, responsivity, model, jac, len(order), [g.spec for g in absent], s2)
    undetermined = []
    far_red = any(FAR_RED_NM <= theta[k + 1] < 760.0 for _i, k, _f in layout)
    joint_mw = joint() if joint is not None and absent and far_red else {}
    for g in absent:
        name = g.spec.name
        stat_u[name] = max(limits[name], joint_mw.get(name, 0.0) / to_mw)
        if plan is None and not _excluded(stat_u[name] * to_mw, sum(amplitudes.values()) * to_mw):
            undetermined.append(name)
        result.flags.append(f"{name}_{'undetermined' if name in undetermined else 'absent'}")

    for name in amplitudes:
        value = amplitudes[name] * to_mw
        _put(result, f"{name}_irradiance_mw_cm2", value)
        _put(result, f"{name}_irradiance_u_mw_cm2", math.hypot(stat_u[name] * to_mw, scale_u * value))
    for name in undetermined:  # somewhere in [0, its upper limit]: the middle, its U reaching both ends
        _put(result, f"{name}_irradiance_mw_cm2", 0.5 * stat_u[name] * to_mw)
        _put(result, f"{name}_irradiance_u_mw_cm2", 0.5 * stat_u[name] * to_mw)
    if plan is not None:
        index = {grids[i].spec.name: k for i, k, _f in layout}
        _groups(result, plan, index, theta, cov, stat_u, to_mw, scale_u)
        _plan_columns(result, plan, grids, to_mw * scale_u, amplitudes, stat_u, to_mw)
    total = sum(amplitudes.values())
    amplitude_index = [k for _i, k, _f in layout]
    total_var = float(sum(cov[i, j] for i in amplitude_index for j in amplitude_index)) if order else 0.0
    total_stat = max(K * math.sqrt(max(total_var, 0.0)), max(spreads, default=0.0))
    if len(order) == 1:
        total_stat = stat_u[grids[order[0]].spec.name]
    total_stat = math.sqrt(total_stat**2 + sum(stat_u[g.spec.name] ** 2 for g in absent))
    result.irradiance_mw_cm2 = total * to_mw
    result.irradiance_u_mw_cm2 = math.hypot(total_stat * to_mw, scale_u * total * to_mw)
    return result


def _effective_parameters(weighted_jac: np.ndarray) -> int:
    """Parameters the channels actually constrain: the rank of the (column-normalised) weighted Jacobian, so
    lines the sensor cannot tell apart (two NIR lines) do not eat the degrees of freedom of the fit."""
    if weighted_jac.size == 0:
        return 0
    norms = np.linalg.norm(weighted_jac, axis=0)
    scaled = weighted_jac[:, norms > 0] / norms[norms > 0]
    if scaled.size == 0:
        return 0
    singular = np.linalg.svd(scaled, compute_uv=False)
    return int(np.sum(singular > RANK_RTOL * singular[0]))


def _put(result: Estimate, key: str, value: float | None) -> None:
    if key in Estimate.KEYS:
        setattr(result, key, value)
    else:
        result.lines[key] = value


def _band_of(spec: LineSpec) -> str:
    """The peak floor a line takes: the red one below 740 nm, the NIR one above."""
    return spec.name if spec.name in ("red", "nir") else ("red" if spec.nominal[0] < 740 else "nir")


def _groups(result: Estimate, plan: LinePlan, index: Mapping[str, int], theta: np.ndarray, cov: np.ndarray,
            stat_u: Mapping[str, float], to_mw: float, scale_u: float) -> None:
    """Each group of unresolved claimed lines: the members' sum (U from their covariance and the absent members'
    upper limits) and centroid; the members' own columns emptied."""
    for group, members in plan.groups:
        present = [m for m in members if m in index]
        ks = [index[m] for m in present]
        value = float(sum(theta[k] for k in ks))
        var = float(sum(cov[i, j] for i in ks for j in ks))
        stat = math.sqrt(K**2 * max(var, 0.0) + sum(stat_u[m] ** 2 for m in members if m not in index))
        result.lines[f"{group}_irradiance_mw_cm2"] = value * to_mw
        result.lines[f"{group}_irradiance_u_mw_cm2"] = math.hypot(stat * to_mw, scale_u * value * to_mw)
        peaks = [(theta[index[m]], result.lines[f"{m}_peak_nm"], result.lines[f"{m}_peak_u_nm"]) for m in present]
        if value > 0 and peaks:
            centroid = sum(a * p for a, p, _ in peaks) / value
            reach = max(abs(p - centroid) + (u or 0.0) for a, p, u in peaks)
            result.lines[f"{group}_peak_nm"], result.lines[f"{group}_peak_u_nm"] = centroid, reach
        for member in members:
            for suffix in ("peak_nm", "peak_u_nm", "irradiance_mw_cm2", "irradiance_u_mw_cm2"):
                result.lines[f"{member}_{suffix}"] = None


def _plan_columns(result: Estimate, plan: LinePlan, grids: Sequence[_Grid], scale_u_mw: float,
                  amplitudes: Mapping[str, float], stat_u: Mapping[str, float], to_mw: float) -> None:
    """Claimed lines merged in a group: no peak, no irradiance (flag ``<line>_unresolved``); the band sums
    in ``red_*`` / ``nir_*`` (peaks there only from an ``unclaimed_*`` line)."""
    for column in plan.columns:
        result.lines.setdefault(column, None)
    for member in plan.unresolved:
        result.flags.append(f"{member}_unresolved")
    for flag in [f for f in result.flags if f.endswith("_absent") and f.removesuffix("_absent") in plan.claimed]:
        result.lines[flag.replace("_absent", "_peak_nm")] = None
    for band in ("red", "nir"):
        specs = [g.spec for g in grids if _band_of(g.spec) == band]
        value = sum(amplitudes[s.name] for s in specs)
        u = math.sqrt(sum((stat_u[s.name] * to_mw) ** 2 for s in specs)) if specs else 0.0
        setattr(result, f"{band}_irradiance_mw_cm2", value * to_mw)
        setattr(result, f"{band}_irradiance_u_mw_cm2", math.hypot(u, scale_u_mw * value))
        unclaimed = f"unclaimed_{band}"
        setattr(result, f"{band}_peak_nm", result.lines.get(f"{unclaimed}_peak_nm"))
        setattr(result, f"{band}_peak_u_nm", result.lines.get(f"{unclaimed}_peak_u_nm"))
    result.flags = [f for f in result.flags if f not in ("red_absent", "nir_absent")]
    for band in ("red", "nir"):
        if not getattr(result, f"{band}_irradiance_mw_cm2"):
            result.flags.append(f"{band}_absent")


def _upper_limits(y: np.ndarray, sw: np.ndarray, responsivity: Responsivity, model: np.ndarray, jac: np.ndarray,
                  n_present: int, absent: list[LineSpec], s2: float) -> dict[str, float]:
    """k=2 upper limit (uW/cm2 at the sensor) of each absent line: a nominal line's free-sign amplitude."""
    if not absent:
        return {}
    present_columns = [jac[:, i] for i in range(jac.shape[1])] if n_present else []
    nominal = [responsivity.line_response(*spec.nominal) for spec in absent]
    design = np.column_stack([*present_columns, *nominal]) * sw[:, None]
    target = (y - model) * sw  # linearised around the present lines' fit
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    cov = np.linalg.pinv(design.T @ design) * s2
    out = {}
    for n, spec in enumerate(absent):
        i = len(present_columns) + n
        out[spec.name] = max(float(coef[i]), 0.0) + K * math.sqrt(max(float(cov[i, i]), 0.0))
    return out


# --- many rows --------------------------------------------------------------------------------------------------
def _truthy(value: object) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "y")


PARALLEL_MIN_ROWS = 4000  # below this a process pool costs more than it saves
CHUNK_ROWS = 1000


def analyze_counts(rows: Iterable[Mapping[str, Any]], calibration: Calibration | None = None,
                   dark_counts: Sequence[float] | None = None, plan: LinePlan | None = None,
                   progress: Callable[[int], None] | None = None, progress_every: int = CHUNK_ROWS,
                   workers: int | None = None) -> list[dict[str, Any]]:
    """Estimate every row of a counts table; each result is the row plus :meth:`Estimate.as_dict`.

    Rows need F1..NIR (raw counts), ``gain_x`` and ``t_int_ms``; optional ``saturated`` (true/1/yes),
    ``full_scale`` or ``atime`` + ``astep`` (for the full-scale check) and ``transmission`` (used when no
    calibration is given: then the datasheet-nominal calibration applies and rows get the flag
    ``uncalibrated``). ``dark_counts`` (CHANNELS order) overrides the calibration's dark baseline. Values
    may be strings (from ``csv.DictReader``). ``plan``: claimed lines to fit. Rows with the same counts and
    settings (dark and switched-off rows, a held reading) are estimated once. ``progress(rows_done)`` is
    called every ``progress_every`` rows (every chunk when parallel) and at the end. ``workers``: processes
    (default: one per CPU for tables of ``PARALLEL_MIN_ROWS`` rows or more, else 1).
    """
    rows = list(rows)
    if workers is None:
        workers = (os.cpu_count() or 1) if len(rows) >= PARALLEL_MIN_ROWS else 1
    if workers <= 1:
        return _analyze_chunk(rows, calibration, dark_counts, plan, progress, progress_every)
    from concurrent.futures import ProcessPoolExecutor

    chunks = [rows[i:i + CHUNK_ROWS] for i in range(0, len(rows), CHUNK_ROWS)]
    out: list[dict[str, Any]] = []
    with ProcessPoolExecutor(workers) as pool:
        for part in pool.map(_analyze_chunk, chunks, *zip(*[(calibration, dark_counts, plan)] * len(chunks),
                                                          strict=True)):
            out += part
            if progress is not None:
                progress(len(out))
    return out


def _analyze_chunk(rows: Sequence[Mapping[str, Any]], calibration: Calibration | None,
                   dark_counts: Sequence[float] | None, plan: LinePlan | None,
                   progress: Callable[[int], None] | None = None, progress_every: int = CHUNK_ROWS
                   ) -> list[dict[str, Any]]:
    """:func:`analyze_counts` in this process."""
    responsivity = calibration.responsivity if calibration is not None else Responsivity.load()
    out: list[dict[str, Any]] = []
    calibrations: dict[float, Calibration] = {}
    done: dict[tuple, dict[str, Any]] = {}
    for n, row in enumerate(rows, start=1):
        cal = calibration
        if cal is None:
            transmission = float(row.get("transmission") or 0.01)
            cal = calibrations.get(transmission) or calibrations.setdefault(
                transmission, Calibration(responsivity, transmission=transmission))
        if dark_counts is not None:
            cal = cal.with_dark(dark_counts)
        full_scale = None
        if row.get("full_scale") not in (None, ""):
            full_scale = int(float(row["full_scale"]))
        elif row.get("atime") not in (None, "") and row.get("astep") not in (None, ""):
            full_scale = full_scale_counts(int(float(row["atime"])), int(float(row["astep"])))
        counts = tuple(float(row[c]) for c in CHANNELS)
        key = (counts, float(row["gain_x"]), float(row["t_int_ms"]), _truthy(row.get("saturated", "")), full_scale,
               cal.transmission)
        result = done.get(key)
        if result is None:
            result = estimate(counts, key[1], key[2], cal, key[3], full_scale, plan).as_dict()
            if not cal.calibrated:
                result["flags"] = ";".join(f for f in (result["flags"], "uncalibrated") if f)
            done[key] = result
        out.append({**row, **result})
        if progress is not None and n % progress_every == 0:
            progress(n)
    if progress is not None:
        progress(len(out))
    return out
