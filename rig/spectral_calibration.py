"""Spectral calibration per sensor: per-channel corrections fitted to readings of sources of known peak.

Model. The sensor's channel c responds like the typical table shifted and scaled,

    R_c(lambda) = g_c x R_typical,c(lambda - d_c),

so a reference line r (peak p_r, FWHM f_r, irradiance A_r at the sensor) gives basic counts
``A_r x g_c x line_response_c(p_r - d_c, f_r)``. Unknowns: ``log g_c`` per channel, ``d_c`` for the
channels whose passband the red/NIR references reach (F6, F7, F8, NIR; F1-F5 see red and NIR light only out
of band, so their gain is that level; Clear has no filter), and per reference its amplitude, peak, width.

Regularisation (a maximum a-posteriori fit, ``scipy.optimize.least_squares`` with prior residuals): the
production spread is the prior, ``log g_c ~ N(0, model_u.rel_c)`` (F1-F5, out of band: ``N(0, 0.5)``) and
``d_c ~ N(0, model_u.shift_nm_c)``,
so three references cannot overfit 19 corrections: a channel the references do not constrain stays at the
typical curve with its uncalibrated uncertainty. Each reference's peak has the prior
``N(reference_peak_nm, reference_u_nm)`` (default u 1 nm), its width ``N(reference_fwhm_nm, 2 nm)`` or, when
unknown, ``N(20 nm, 8 nm)``; its amplitude is free unless ``reference_mw_cm2`` is given (then
``N(reference x transmission, 3 %)``). Residuals are weighted by counting noise plus what the model cannot
absorb (3 % per channel, 0.5 % of the channel's peak out of band).

The posterior covariance (from the Jacobian of data and prior residuals) becomes the calibrated model
uncertainty: ``rel_c = sqrt(var(log g_c) + 0.03^2)``, ``shift_nm_c = sqrt(var(d_c) + 1 nm^2)``, out-of-band
halved; and the references' peak uncertainty flows into the k=2 peak floor (the posterior standard
deviation of the F7/F8 mean shift for red, of the NIR shift for NIR, with 1 nm / 5 nm minimums).
The corrections hold for red and NIR light (590-1000 nm, where the references are), not for blue light.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from rig.errors import RigError
from rig.responsivity import CHANNELS, Responsivity, gain_ratio
from rig.spectrum import ModelUncertainty

REFERENCE_U_NM = 1.0  # default standard uncertainty of a reference's peak (a spectrometer-measured LED)
FWHM_PRIOR_NM = (20.0, 8.0)  # a reference LED of unknown width
FWHM_KNOWN_U_NM = 2.0
AMPLITUDE_U_REL = 0.03
UNMODELLED_REL, UNMODELLED_OOB = 0.05, 0.005
CALIBRATED_SHIFT_FLOOR_NM = 1.5
PEAK_FLOOR_MIN_NM = {"red": 1.0, "nir": 5.0}
SHIFTED = ("F6", "F7", "F8", "NIR")  # filters whose passband the red/NIR references reach: their centre is fitted
OOB_ONLY = ("F1", "F2", "F3", "F4", "F5")  # red/NIR light reaches these only out of band: a gain = its level
OOB_GAIN_PRIOR = 0.5  # the out-of-band level of a part varies by tens of % (2-7 % of peak in the templates)


@dataclass(frozen=True)
class ReferenceReading:
    """One reading of a reference source and what is known of the source."""

    counts: tuple[float, ...]
    gain_x: float
    t_int_ms: float
    peak_nm: float
    fwhm_nm: float | None = None
    peak_u_nm: float = REFERENCE_U_NM
    irradiance_mw_cm2: float | None = None  # at the wrap surface (jig), from a reference meter
    saturated: bool = False


@dataclass(frozen=True)
class SpectralFit:
    """Per-channel corrections, their calibrated model uncertainty and the references' fitted values."""

    gains: tuple[float, ...]
    shifts_nm: tuple[float, ...]
    model_u: ModelUncertainty
    peak_floor_nm: dict[str, float]
    fitted_peaks_nm: list[float]
    residuals_rel: list[float]  # RMS relative residual per reference
    sources: list[tuple] = field(default_factory=list)  # (peak, fwhm, mw, u) per reference source, fit order


def load_reference_csv(path: str | Path, peak_column: str = "reference_peak_nm",
                       peak_default: float | None = None) -> list[ReferenceReading]:
    """Read a REF_CSV: a counts table (as ``rig analyze`` reads) plus reference_peak_nm and optional
    reference_fwhm_nm, reference_u_nm, reference_mw_cm2. Mistakes raise RigError naming file, row and column.
    (``peak_column``/``peak_default``: the irradiance calibration's ``reference_nm``, or a default for it.)"""
    from rig.counts_csv import REFERENCE_MW_CM2, read_counts_rows

    path, rows = read_counts_rows(path, required=(*CHANNELS, "gain_x", "t_int_ms")
                                  + ((peak_column,) if peak_default is None else ()))

    def number(row: dict, n: int, column: str, low: float, high: float, optional: bool = False) -> float | None:
        text = (row.get(column) or "").strip()
        if not text and (optional or (column == peak_column and peak_default is not None)):
            return None
        try:
            value = float(text)
        except ValueError:
            raise RigError(f"{path}: line {n}, column {column!r}: expected a number in [{low:g}, {high:g}], "
                           f"got {text!r}") from None
        if not (low <= value <= high and math.isfinite(value)):
            raise RigError(f"{path}: line {n}, column {column!r}: expected a number in [{low:g}, {high:g}], "
                           f"got {value:g}")
        return value

    out = []
    for row in rows:  # counts, gain and integration time checked by the reader
        n, cells = row.line, row.cells
        out.append(ReferenceReading(
            row.counts, row.gain_x, row.t_int_ms,
            number(cells, n, peak_column, 380, 1050, optional=peak_default is not None) or peak_default or 0.0,
            number(cells, n, "reference_fwhm_nm", 1, 150, optional=True),
            number(cells, n, "reference_u_nm", 0.01, 20, optional=True) or REFERENCE_U_NM,
            number(cells, n, "reference_mw_cm2", 1e-6, REFERENCE_MW_CM2[1], optional=True),
            row.saturated))
    return out


def fit_spectral(readings: Sequence[ReferenceReading], table: Responsivity, transmission: float,
                 dark_counts: Sequence[float] | None = None, prior: ModelUncertainty | None = None) -> SpectralFit:
    """Fit per-channel gains and shifts to reference readings (see the module docstring)."""
    if not readings:
        raise RigError("spectral calibration: no reference readings")
    prior = prior or ModelUncertainty()
    dark = np.asarray(dark_counts if dark_counts is not None else (0.0,) * 10, float)
    # one source per distinct (peak, width, irradiance): its readings share amplitude, peak and width
    keys = sorted({_key(r) for r in readings},
                  key=lambda k: (k[0], k[1] or 0, k[2] or 0))
    data = []
    for r in readings:
        if r.saturated or max(r.counts) >= 65535:
            raise RigError(f"spectral calibration: the {r.peak_nm:g} nm reference reading is saturated "
                           "(lower the gain or add attenuation)")
        per_basic = gain_ratio(r.gain_x) * r.t_int_ms
        y = (np.asarray(r.counts, float) - dark) / per_basic
        var = (np.maximum(np.asarray(r.counts, float), 0.0) + 2.0 + 1 / 12) / per_basic**2
        data.append((keys.index(_key(r)), y, var))
    peaks_max = table.matrix.max(axis=0)
    shifted = [CHANNELS.index(name) for name in SHIFTED]
    n_gain, n_shift = len(CHANNELS), len(shifted)

    # starting amplitudes: the source alone through the typical table
    start_amp = []
    for s, (peak, fwhm, _mw, _u) in enumerate(keys):
        response = table.line_response(peak, fwhm or FWHM_PRIOR_NM[0])
        ys = [y for src, y, _v in data if src == s]
        start_amp.append(max(float(np.mean([y @ response / (response @ response) for y in ys])), 1e-6))
        if max(float(np.max(y)) for y in ys) <= 0:
            raise RigError(f"spectral calibration: no light measured for the {peak:g} nm reference "
                           "(is the source on?)")

    def unpack(theta: np.ndarray):
        log_g = theta[:n_gain]
        shift = np.zeros(n_gain)
        shift[shifted] = theta[n_gain:n_gain + n_shift]
        src = theta[n_gain + n_shift:].reshape(len(keys), 3)
        return log_g, shift, src

    sds: list[np.ndarray] = []

    def standard_deviations(theta: np.ndarray) -> list[np.ndarray]:
        """Per reading: noise + what the correction model cannot absorb, at ``theta`` (held during a fit)."""
        log_g, shift, src = unpack(theta)
        models = [_model(table, log_g, shift, source) for source in src]
        return [np.sqrt(var + (UNMODELLED_REL * models[s]) ** 2
                        + (UNMODELLED_OOB * peaks_max * math.exp(src[s][0])) ** 2) for s, _y, var in data]

    def residuals(theta: np.ndarray) -> np.ndarray:
        log_g, shift, src = unpack(theta)
        models = [_model(table, log_g, shift, source) for source in src]
        out = [(y - models[s]) / sd for (s, y, _var), sd in zip(data, sds, strict=True)]
        out.append(log_g / np.asarray([OOB_GAIN_PRIOR if name in OOB_ONLY else u
                                       for name, u in zip(CHANNELS, prior.rel, strict=True)]))
        out.append(theta[n_gain:n_gain + n_shift] / np.asarray(prior.shift_nm)[shifted])
        for s, (peak, fwhm, mw, u_nm) in enumerate(keys):
            log_a, p, f = src[s]
            out.append(np.array([(p - peak) / u_nm]))
            mean, sd = (fwhm, FWHM_KNOWN_U_NM) if fwhm else FWHM_PRIOR_NM
            out.append(np.array([(f - mean) / sd]))
            if mw is not None:
                out.append(np.array([(log_a - math.log(mw * 1000.0 * transmission)) / AMPLITUDE_U_REL]))
        return np.concatenate(out)

    theta0 = np.concatenate([np.zeros(n_gain + n_shift),
                             np.ravel([(math.log(a), k[0], k[1] or FWHM_PRIOR_NM[0])
                                       for a, k in zip(start_amp, keys, strict=True)])])
    theta = theta0
    for _ in range(2):  # weights from the previous solution, held during each fit (no reward for a larger model)
        sds[:] = standard_deviations(theta)
        fit = least_squares(residuals, theta, method="trf", x_scale="jac", diff_step=1e-6)
        theta = fit.x
    cov = np.linalg.pinv(fit.jac.T @ fit.jac)
    log_g, shift, src = unpack(fit.x)
    var_g = np.diag(cov)[:n_gain]
    var_shift = np.zeros(n_gain)
    var_shift[shifted] = np.diag(cov)[n_gain:n_gain + n_shift]
    model_u = ModelUncertainty(
        rel=tuple(float(math.sqrt(v + UNMODELLED_REL**2)) for v in var_g),
        shift_nm=tuple(float(math.sqrt(var_shift[c] + CALIBRATED_SHIFT_FLOOR_NM**2)) if c in shifted
                       else float(prior.shift_nm[c]) for c in range(n_gain)),
        oob=tuple(prior.oob))
    i7, i8, i_nir = (n_gain + shifted.index(CHANNELS.index(c)) for c in ("F7", "F8", "NIR"))
    red_var = 0.25 * (cov[i7, i7] + cov[i8, i8] + 2 * cov[i7, i8])
    floor = {"red": max(PEAK_FLOOR_MIN_NM["red"], 2.0 * math.sqrt(max(red_var, 0.0))),
             "nir": max(PEAK_FLOOR_MIN_NM["nir"], 2.0 * math.sqrt(max(cov[i_nir, i_nir], 0.0)))}
    residuals_rel = []
    for s in range(len(keys)):
        rel = [np.sqrt(np.mean(((y - _model(table, log_g, shift, src[s])) / max(np.max(y), 1e-12)) ** 2))
               for src_index, y, _v in data if src_index == s]
        residuals_rel.append(float(np.mean(rel)))
    return SpectralFit(tuple(float(math.exp(g)) for g in log_g), tuple(float(d) for d in shift), model_u, floor,
                       [float(src[s][1]) for s in range(len(keys))], residuals_rel, keys)


def _model(table: Responsivity, log_g: np.ndarray, shift: np.ndarray, source: np.ndarray) -> np.ndarray:
    log_a, peak, fwhm = source
    response = np.diagonal(table.line_responses(peak - shift, max(fwhm, 2.0)))  # channel c seen at peak - shift_c
    return math.exp(log_a) * np.exp(log_g) * response


def add_references(calibration_file, new: Sequence[ReferenceReading], transmission: float) -> SpectralFit:
    """Refit the spectral calibration of ``calibration_file`` (a :class:`rig.calibration_file.CalibrationFile`) with
    its stored reference readings plus ``new``, and store corrections, uncertainties and provenance in it."""
    from datetime import UTC, datetime

    from rig.calibration_file import SpectralReadingRecord, SpectralReference

    stored = [ReferenceReading(tuple(r.counts), r.gain_x, r.t_int_ms, r.reference_peak_nm,
                               r.reference_fwhm_nm or None, r.reference_u_nm, r.reference_mw_cm2 or None)
              for r in calibration_file.spectral_readings]
    readings = stored + list(new)
    fit = fit_spectral(readings, Responsivity.load(), transmission, calibration_file.dark_counts or None)
    f = calibration_file
    f.spectral_created = datetime.now(UTC).isoformat(timespec="seconds")
    f.spectral_gains = [round(g, 6) for g in fit.gains]
    f.spectral_shifts_nm = [round(d, 4) for d in fit.shifts_nm]
    f.spectral_u_rel = [round(u, 6) for u in fit.model_u.rel]
    f.spectral_u_shift_nm = [round(u, 4) for u in fit.model_u.shift_nm]
    f.spectral_u_oob = [round(u, 6) for u in fit.model_u.oob]
    f.spectral_peak_floor_nm = [round(fit.peak_floor_nm["red"], 4), round(fit.peak_floor_nm["nir"], 4)]
    f.spectral_readings = [SpectralReadingRecord([float(c) for c in r.counts], r.gain_x, round(r.t_int_ms, 4),
                                                 r.peak_nm, r.peak_u_nm, r.fwhm_nm or 0.0, r.irradiance_mw_cm2 or 0.0)
                           for r in readings]
    sources = fit.sources
    f.spectral_references = [
        SpectralReference(peak, u_nm, fwhm or 0.0, mw or 0.0, sum(1 for r in readings if _key(r) == key),
                          round(fitted, 3), round(residual, 5))
        for key, fitted, residual in zip(sources, fit.fitted_peaks_nm, fit.residuals_rel, strict=True)
        for peak, fwhm, mw, u_nm in [key]]
    f.spectral_method = (
        f"per-channel gain and filter shift fitted (MAP, production spread as prior) to {len(sources)} reference "
        f"source(s) at {', '.join(f'{k[0]:g}' for k in sources)} nm, {len(readings)} readings; "
        f"transmission {transmission:g}")
    return fit


def _key(r: ReferenceReading) -> tuple:
    return (r.peak_nm, r.fwhm_nm, r.irradiance_mw_cm2, r.peak_u_nm)
