"""From one 10-channel AS7341 reading to peak wavelengths and irradiance, with uncertainty.

Ten broad channels are not a spectrometer, so rig fits a *model* through the
channel responsivity curves (calibration/responsivity.csv): at most one red
LED line (590-720 nm) and one NIR line (740-1000 nm), each a Gaussian of
unknown peak and width (NIR searched in 760-960 nm). For a given pair of lines the amplitudes are linear,
so the fit is an exhaustive search over a grid of (peak, FWHM) per band with
weighted linear least squares for the amplitudes (numpy), alternating between
the bands and then profiling each band's peak jointly with both amplitudes.

Uncertainties are expanded (k = 2, about 95 %):

- peak: the profile-likelihood interval, i.e. every grid peak whose best fit
  (over width and amplitudes) is within ``4 s^2`` of the minimum chi-square,
  where ``s^2`` is the reduced chi-square when above 1. The NIR interval is wide
  (tens of nm) because only the NIR and Clear channels see that band: it is
  reported as it is, never narrowed;
- irradiance: the amplitude's statistical error, its spread over the accepted
  (peak, width) set, and the calibration's scale uncertainty.

A saturated reading is refused (an :class:`Estimate` with the ``saturated``
flag and no values). No pandas here: this may run per sample on the Pi.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from rig.responsivity import CHANNELS, Responsivity, gain_ratio

RED_PEAKS_NM = np.arange(590.0, 720.5, 1.0)
# NIR search range: wrap NIR LEDs sit at 780-950 nm. The NIR channel's response is symmetric about 910 nm,
# so a line at 850 nm and one at 970 nm look alike; searching beyond 960 nm would make every NIR peak ambiguous.
NIR_PEAKS_NM = np.arange(760.0, 960.5, 2.0)
RED_FWHM_NM = tuple(float(w) for w in range(10, 42, 2))
NIR_FWHM_NM = (20.0, 25.0, 30.0, 35.0, 40.0, 50.0)
READ_NOISE_COUNTS = 1.0
DARK_NOISE_COUNTS = 1.0
MODEL_ERROR_REL = 0.02  # the table is a model of the real curves: 2 % per channel
SIGNIFICANCE = 5.0  # a band is present when its amplitude is at least 5 sigma
MIN_SHARE = 0.02  # ...and at least 2 % of the total irradiance
WEAK_BASIC = 0.05  # below this many basic counts in every channel there is nothing to fit
PEAK_FLOOR_NM = {"red": 1.0, "nir": 10.0}  # the table's own accuracy, added to the fit's interval


@dataclass(frozen=True)
class Calibration:
    """How counts become irradiance at the wrap surface.

    ``scale`` multiplies the table's irradiance (set by calibration against a
    reference meter; 1.0 = datasheet nominal), ``scale_u_rel`` is its standard
    relative uncertainty, ``transmission`` the jig attenuator's, ``dark_counts``
    raw counts per channel to subtract (the run's dark baseline).
    """

    responsivity: Responsivity
    transmission: float = 0.01
    scale: float = 1.0
    scale_u_rel: float = 0.08
    dark_counts: tuple[float, ...] = (0.0,) * 10
    id: str = "nominal-datasheet"
    calibrated: bool = False

    def with_dark(self, dark_counts: tuple[float, ...] | list[float]) -> Calibration:
        from dataclasses import replace

        return replace(self, dark_counts=tuple(float(d) for d in dark_counts))


@dataclass
class Estimate:
    """Peaks (nm) and irradiance at the wrap surface (mW/cm2), each with an expanded uncertainty."""

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

    def as_dict(self) -> dict[str, object]:
        row: dict[str, object] = {}
        for key in ("red_peak_nm", "red_peak_u_nm", "nir_peak_nm", "nir_peak_u_nm", "red_irradiance_mw_cm2",
                    "red_irradiance_u_mw_cm2", "nir_irradiance_mw_cm2", "nir_irradiance_u_mw_cm2",
                    "irradiance_mw_cm2", "irradiance_u_mw_cm2"):
            value = getattr(self, key)
            row[key] = None if value is None else round(float(value), 4)
        row["flags"] = ";".join(self.flags)
        return row


@dataclass(frozen=True)
class _Grid:
    peaks_nm: np.ndarray  # one per line
    fwhm_nm: np.ndarray
    responses: np.ndarray  # lines x 10, basic counts per uW/cm2


@lru_cache(maxsize=4)
def _grids(responsivity: Responsivity) -> tuple[_Grid, _Grid]:
    def build(peaks: np.ndarray, widths: tuple[float, ...]) -> _Grid:
        rows, ps, ws = [], [], []
        for width in widths:
            rows.append(responsivity.line_responses(peaks, width))
            ps.append(peaks)
            ws.append(np.full_like(peaks, width))
        return _Grid(np.concatenate(ps), np.concatenate(ws), np.vstack(rows))
    return build(RED_PEAKS_NM, RED_FWHM_NM), build(NIR_PEAKS_NM, NIR_FWHM_NM)


def _fit_one(grid: _Grid, target: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best non-negative amplitude and chi-square of every grid line alone against ``target``."""
    lw = grid.responses * weights
    amplitude = np.maximum((lw @ target) / np.einsum("ij,ij->i", lw, grid.responses), 0.0)
    residual = target[None, :] - amplitude[:, None] * grid.responses
    return amplitude, np.einsum("ij,ij->i", residual * weights, residual)


def _fit_joint(grid: _Grid, other: np.ndarray, y: np.ndarray, w: np.ndarray):
    """For every line of ``grid`` together with the fixed line shape ``other``: both amplitudes (>= 0),
    chi-square and the amplitude variances (weighted linear least squares, 2 x 2 per line)."""
    l1 = grid.responses
    a11 = np.einsum("ij,j,ij->i", l1, w, l1)
    a12 = l1 @ (w * other)
    a22 = float(other @ (w * other))
    b1 = l1 @ (w * y)
    b2 = float(other @ (w * y))
    det = a11 * a22 - a12**2
    with np.errstate(divide="ignore", invalid="ignore"):
        x1 = (a22 * b1 - a12 * b2) / det
        x2 = (a11 * b2 - a12 * b1) / det
    # where a joint amplitude goes negative, fall back to that line alone / the other alone
    alone1 = np.maximum(b1 / a11, 0.0)
    alone2 = max(b2 / a22, 0.0) if a22 > 0 else 0.0
    bad = ~np.isfinite(x1) | ~np.isfinite(x2) | (x1 < 0) | (x2 < 0)
    x1 = np.where(bad, alone1, x1)
    x2 = np.where(bad, 0.0, x2)
    only_other = bad & (alone1 <= 0)
    x2 = np.where(only_other, alone2, x2)
    residual = y[None, :] - x1[:, None] * l1 - x2[:, None] * other[None, :]
    chi2 = np.einsum("ij,j,ij->i", residual, w, residual)
    with np.errstate(divide="ignore", invalid="ignore"):
        var1 = np.where(det > 0, a22 / det, 1.0 / a11)
        var2 = np.where(det > 0, a11 / det, 1.0 / a22 if a22 > 0 else np.inf)
    return x1, x2, chi2, var1, var2


def _profile_interval(grid: _Grid, chi2: np.ndarray, threshold: float) -> tuple[float, float, float, np.ndarray]:
    """Best peak (parabola-refined), and the accepted peak interval, from chi-square minimised over width."""
    peaks = np.unique(grid.peaks_nm)
    profile = np.full(peaks.shape, np.inf)
    index = np.searchsorted(peaks, grid.peaks_nm)
    np.minimum.at(profile, index, chi2)
    best = int(np.argmin(profile))
    best_peak = float(peaks[best])
    if 0 < best < len(peaks) - 1:
        left, mid, right = profile[best - 1:best + 2]
        curvature = left - 2 * mid + right
        if curvature > 0:
            best_peak += float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5)) * (peaks[1] - peaks[0])
    accepted = profile <= profile[best] + threshold
    step = float(peaks[1] - peaks[0])
    low, high = float(peaks[accepted].min()) - step / 2, float(peaks[accepted].max()) + step / 2
    return best_peak, low, high, chi2 <= profile[best] + threshold


def estimate(counts, gain_x: float, t_int_ms: float, calibration: Calibration, saturated: bool = False,
             full_scale: int | None = None) -> Estimate:
    """Peaks and irradiance from one reading (raw counts in CHANNELS order)."""
    raw = np.asarray(counts, dtype=float)
    if saturated or (full_scale is not None and raw.max() >= full_scale):
        return Estimate(flags=["saturated"])
    per_basic = gain_ratio(gain_x) * t_int_ms
    y = (raw - np.asarray(calibration.dark_counts, dtype=float)) / per_basic
    sigma = np.sqrt(np.maximum(raw, 0.0) + READ_NOISE_COUNTS**2 + DARK_NOISE_COUNTS**2) / per_basic
    sigma = np.hypot(sigma, MODEL_ERROR_REL * np.abs(y))
    w = 1.0 / sigma**2
    to_mw = calibration.scale / calibration.transmission / 1000.0  # uW/cm2 at the sensor -> mW/cm2 at the surface
    red_grid, nir_grid = _grids(calibration.responsivity)

    if np.all(y < np.maximum(WEAK_BASIC, 5 * sigma)):
        u = float(np.max(5 * sigma / np.max(calibration.responsivity.matrix, axis=0))) * to_mw
        return Estimate(irradiance_mw_cm2=0.0, irradiance_u_mw_cm2=u, red_irradiance_mw_cm2=0.0,
                        nir_irradiance_mw_cm2=0.0, flags=["too_weak", "red_absent", "nir_absent"])

    # alternate single-band fits to find the neighbourhood, then profile each band jointly
    red_line = np.zeros(10)
    nir_line = np.zeros(10)
    best_nir_alone = 0
    for _ in range(3):
        amplitude, chi2 = _fit_one(nir_grid, y - red_line, w)
        best_nir_alone = int(np.argmin(chi2))
        nir_line = amplitude[best_nir_alone] * nir_grid.responses[best_nir_alone]
        amplitude, chi2 = _fit_one(red_grid, y - nir_line, w)
        best = int(np.argmin(chi2))
        red_line = amplitude[best] * red_grid.responses[best]
    nir_shape = nir_grid.responses[best_nir_alone]  # per uW/cm2, so its joint amplitude is an irradiance
    red_r, red_n, red_chi2, red_var, _ = _fit_joint(red_grid, nir_shape, y, w)
    best_red = int(np.argmin(red_chi2))
    red_shape = red_grid.responses[best_red]
    nir_n, nir_r, nir_chi2, nir_var, _ = _fit_joint(nir_grid, red_shape, y, w)
    best_nir = int(np.argmin(nir_chi2))

    chi2_both = float(min(red_chi2[best_red], nir_chi2[best_nir]))
    dof = max(1, 10 - 6)
    s2 = max(1.0, chi2_both / dof)
    threshold = 4.0 * s2

    red_amp = float(nir_r[best_nir]) if nir_chi2[best_nir] <= red_chi2[best_red] else float(red_r[best_red])
    nir_amp = float(nir_n[best_nir]) if nir_chi2[best_nir] <= red_chi2[best_red] else float(red_n[best_red])
    red_sd = math.sqrt(float(red_var[best_red]) * s2)
    nir_sd = math.sqrt(float(nir_var[best_nir]) * s2)
    total_amp = red_amp + nir_amp
    red_present = red_amp > SIGNIFICANCE * red_sd and red_amp > MIN_SHARE * total_amp
    nir_present = nir_amp > SIGNIFICANCE * nir_sd and nir_amp > MIN_SHARE * total_amp

    result = Estimate(residual_rel=math.sqrt(chi2_both / 10.0) * MODEL_ERROR_REL)
    if chi2_both / dof > 25:
        result.flags.append("fit_poor")
    scale_u = 2.0 * calibration.scale_u_rel
    parts = []
    for band, present, grid, chi2, amp_all, amp, sd in (
            ("red", red_present, red_grid, red_chi2, red_r, red_amp, red_sd),
            ("nir", nir_present, nir_grid, nir_chi2, nir_n, nir_amp, nir_sd)):
        if not present:
            result.flags.append(f"{band}_absent")
            setattr(result, f"{band}_irradiance_mw_cm2", 0.0)
            parts.append((0.0, 2 * sd * to_mw))
            continue
        peak, low, high, accepted = _profile_interval(grid, chi2, threshold)
        peak_u = max(peak - low, high - peak) + PEAK_FLOOR_NM[band]
        spread = float(np.max(np.abs(amp_all[accepted] - amp))) if np.any(accepted) else 0.0
        irradiance = amp * to_mw
        u = math.sqrt((2 * sd) ** 2 + spread**2) * to_mw
        u = math.hypot(u, scale_u * irradiance)
        setattr(result, f"{band}_peak_nm", peak)
        setattr(result, f"{band}_peak_u_nm", peak_u)
        setattr(result, f"{band}_irradiance_mw_cm2", irradiance)
        setattr(result, f"{band}_irradiance_u_mw_cm2", u)
        parts.append((irradiance, u))
        if band == "nir":
            result.flags.append("nir_unresolved")
    result.irradiance_mw_cm2 = sum(p[0] for p in parts)
    stat = math.sqrt(sum(p[1] ** 2 for p in parts))
    result.irradiance_u_mw_cm2 = max(stat, scale_u * result.irradiance_mw_cm2)
    return result


def analyze_counts(rows, calibration: Calibration) -> list[dict[str, object]]:
    """Estimate every row (dicts with F1..NIR, gain_x, t_int_ms and optionally saturated); returns new dicts."""
    out = []
    for row in rows:
        counts = [float(row[c]) for c in CHANNELS]
        saturated = str(row.get("saturated", "")).strip().lower() in ("1", "true", "yes")
        result = estimate(counts, float(row["gain_x"]), float(row["t_int_ms"]), calibration, saturated)
        out.append({**row, **result.as_dict()})
    return out
