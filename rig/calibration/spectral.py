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

The posterior covariance (from the Jacobian of data and prior residuals) becomes the calibrated model uncertainty:
``rel_c = sqrt(var(log g_c) + unmodelled_c^2)`` with ``unmodelled_c`` what channel c's residuals at the references
leave (:func:`_unmodelled`, at least 1 %), ``shift_nm_c = max(sqrt(var(d_c)), 0.5 nm)`` (the references' peak u is in
the posterior: once),
out-of-band from its posterior (gain x level relative to Clear's gain) and channel c's out-of-band residuals
(at least 5 %); the k=2 peak floor is the
references' own stated peak u (red from the references below 740 nm, NIR from those above; at least 0.5 nm).
Each leaking channel's out-of-band level has a slope between red and NIR light, ``exp(t (lambda - 750 nm) / 200 nm)``
with ``t ~ N(0, spread.out_of_band_tilt)``; its u is stated for red light and for NIR light.
The corrections hold for red and NIR light (590-1000 nm, where the references are), not for blue light.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from rig.chips import Role, SpectralChip
from rig.errors import RigError
from rig.spectrum import ModelUncertainty
from rig.spectrum.model import NIR_LIGHT_NM, TILT_ORIGIN_NM
from rig.spectrum.responsivity import (
    OOB_TILT_ORIGIN_NM,
    OOB_TILT_SPAN_NM,
    Responsivity,
    out_of_band,
    out_of_band_mask,
)

REFERENCE_U_NM = 1.0  # default standard uncertainty of a reference's peak (a spectrometer-measured LED)
FWHM_PRIOR_NM = (20.0, 8.0)  # a reference LED of unknown width
FWHM_KNOWN_U_NM = 2.0
AMPLITUDE_U_REL = 0.03
UNMODELLED_FLOOR = (0.01, 0.05)  # least unmodelled error: relative in band, relative out of band (of that part)
UNMODELLED_CEILING = 1.0  # at most (100 % of the part: the channel says nothing there; the file's rules hold)
UNMODELLED_START = (0.03, 0.3)  # the first fit's weights
SD_FLOOR_REL = 0.002  # of a reference's largest channel: a channel at ~0 is not known better than this
# the production spread's tilt of a response (per 100 nm) where no reference pins it: Clear's between the irradiance
# reference and NIR light (the references' amplitudes are free), the NIR channel's passband shape
CALIBRATED_TILT = {Role.BROADBAND: 0.04, Role.NIR: 0.08}  # by the channel's role
SHIFT_FLOOR_NM = 0.5  # a filter centre is known no better than this after a calibration (the references' u)
OOB_PRIOR = (math.log(math.sqrt(0.1 * 3.0)), 0.5 * math.log(3.0 / 0.1) / 1.7)  # log level: 0.1x-3x the templates'
RED_LIGHT_NM, NIR_LIGHT_REF_NM = TILT_ORIGIN_NM, 850.0  # where the out-of-band u is stated for red and NIR light
PEAK_FLOOR_MIN_NM = {"red": 0.5, "nir": 0.5}
SHIFTED_FROM_NM = 580.0  # filters peaking from here on (the red/NIR references reach them): their centre is fitted
NIR_FROM_NM = NIR_LIGHT_NM  # a reference from here on sets the NIR peak's floor, below it the red one's


def shifted_channels(chip: SpectralChip) -> tuple[str, ...]:
    """The filters whose centre the spectral calibration fits (AS7341: F6, F7, F8, NIR)."""
    return chip.filters_from(SHIFTED_FROM_NM)


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
    oob_factors: tuple[float, ...] = ()  # out-of-band level per channel, x the table's (): all 1
    unmodelled: tuple[float, float] = (0.0, 0.0)  # (in band: the largest channel's, out of band) relative
    oob_tilts: tuple[float, ...] = ()  # its slope per channel (log, per OOB_TILT_SPAN_NM from 750 nm; (): none)


def load_reference_csv(path: str | Path, peak_column: str = "reference_peak_nm",
                       peak_default: float | None = None, chip: SpectralChip | None = None) -> list[ReferenceReading]:
    """Read a REF_CSV: a counts table (:mod:`rig.spectrum.counts_csv`, as ``rig analyze`` reads; ``chip``'s counts
    when given) plus reference_peak_nm and optional reference_fwhm_nm, reference_u_nm, reference_mw_cm2. Mistakes
    raise RigError naming file, line and column. (``peak_column``/``peak_default``: the irradiance calibration's
    ``reference_nm``, or a default for it.)"""
    from rig.spectrum.counts_csv import REFERENCE_MW_CM2, read_counts_rows

    path, _chip, rows = read_counts_rows(path, expected=chip,
                                         extra=(peak_column,) if peak_default is None else ())

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
                 dark_counts: Sequence[float] | None = None, prior: ModelUncertainty | None = None,
                 gain_factors: Sequence[float] = ()) -> SpectralFit:
    """Fit per-channel gains, shifts and out-of-band levels to reference readings (see the module docstring).
    ``gain_factors``: this part's measured gain ratios per gain code (:mod:`rig.calibration.gains`; () typical)."""
    if not readings:
        raise RigError("spectral calibration: no reference readings")
    chip = table.chip
    channels = chip.channels
    prior = prior or ModelUncertainty.of(chip)
    dark = np.asarray(dark_counts if dark_counts is not None else (0.0,) * chip.n_channels, float)
    # one source per distinct (peak, width, irradiance): its readings share amplitude, peak and width
    keys = sorted({_key(r) for r in readings}, key=lambda k: (k[0], k[1] or 0, k[2] or 0))
    sums: list[list] = [[np.zeros(len(channels)), np.zeros(len(channels)), 0] for _ in keys]
    for r in readings:
        if r.saturated or max(r.counts) >= chip.timing.counts_max:
            raise RigError(f"spectral calibration: the {r.peak_nm:g} nm reference reading is saturated "
                           "(lower the gain or add attenuation)")
        per_basic = chip.gain_ratio(r.gain_x) * r.t_int_ms * (gain_factors[chip.gain_code(r.gain_x)]
                                                              if gain_factors else 1.0)
        entry = sums[keys.index(_key(r))]
        entry[0] += (np.asarray(r.counts, float) - dark) / per_basic
        entry[1] += (np.maximum(np.asarray(r.counts, float), 0.0) + 2.0 + 1 / 12) / per_basic**2
        entry[2] += 1
    # each source's mean reading (its model error is common to its readings: they are not independent evidence)
    data = [(y / n, var / n**2) for y, var, n in sums]
    parts = _Parts(table)
    shifted = [channels.index(name) for name in shifted_channels(chip)]
    leaking = [c for c in range(len(channels)) if parts.leaks[c]]
    n_gain, n_shift, n_oob = len(channels), len(shifted), len(leaking)
    tilt_sd = chip.spread.out_of_band_tilt
    n_tilt = n_oob if tilt_sd > 0 else 0  # each leaking channel's slope between red and NIR light
    n_fixed = n_gain + n_shift + n_oob + n_tilt

    start_amp = []
    for (peak, fwhm, _mw, _u), (y, _var) in zip(keys, data, strict=True):
        if float(np.max(y)) <= 0:
            raise RigError(f"spectral calibration: no light measured for the {peak:g} nm reference "
                           "(is the source on?)")
        response = table.line_response(peak, fwhm or FWHM_PRIOR_NM[0])
        start_amp.append(max(float(y @ response / (response @ response)), 1e-6))

    def unpack(theta: np.ndarray):
        log_g = theta[:n_gain]
        shift = np.zeros(n_gain)
        shift[shifted] = theta[n_gain:n_gain + n_shift]
        log_o, tilt = np.zeros(n_gain), np.zeros(n_gain)
        log_o[leaking] = theta[n_gain + n_shift:n_gain + n_shift + n_oob]
        if n_tilt:
            tilt[leaking] = theta[n_gain + n_shift + n_oob:n_fixed]
        return log_g, shift, log_o, tilt, theta[n_fixed:].reshape(len(keys), 3)

    def models(theta: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        log_g, shift, log_o, tilt, src = unpack(theta)
        return [parts.model(log_g, shift, log_o, source, tilt) for source in src]

    held: list[np.ndarray] = []  # each source's standard deviations, held during a fit
    gain_prior = np.asarray(prior.rel, float)
    shift_prior = np.asarray(prior.shift_nm, float)[shifted]
    oob_mean, oob_sd = OOB_PRIOR

    def residuals(theta: np.ndarray) -> np.ndarray:
        log_g, shift, log_o, tilt, src = unpack(theta)
        out = [(y - total) / sd for (y, _v), (total, _oob), sd in zip(data, models(theta), held, strict=True)]
        out.append(log_g / gain_prior)
        out.append(theta[n_gain:n_gain + n_shift] / shift_prior)
        out.append((theta[n_gain + n_shift:n_gain + n_shift + n_oob] - oob_mean) / oob_sd)
        if n_tilt:
            out.append(theta[n_gain + n_shift + n_oob:n_fixed] / tilt_sd)
        for s, (peak, fwhm, mw, u_nm) in enumerate(keys):
            log_a, p, f = src[s]
            out.append(np.array([(p - peak) / u_nm]))
            mean, sd = (fwhm, FWHM_KNOWN_U_NM) if fwhm else FWHM_PRIOR_NM
            out.append(np.array([(f - mean) / sd]))
            if mw is not None:
                out.append(np.array([(log_a - math.log(mw * 1000.0 * transmission)) / AMPLITUDE_U_REL]))
        return np.concatenate(out)

    def sds(theta: np.ndarray, rel: float, oob_rel: float) -> list[np.ndarray]:
        return [np.sqrt(var + (rel * np.maximum(total - oob, 0.0)) ** 2 + (oob_rel * oob) ** 2
                        + (SD_FLOOR_REL * np.max(total)) ** 2)
                for (_y, var), (total, oob) in zip(data, models(theta), strict=True)]

    theta = np.concatenate([np.zeros(n_gain + n_shift), np.full(n_oob, oob_mean), np.zeros(n_tilt),
                            np.ravel([(math.log(a), k[0], k[1] or FWHM_PRIOR_NM[0])
                                      for a, k in zip(start_amp, keys, strict=True)])])
    rel, oob_rel = UNMODELLED_START
    for _ in range(3):  # weights from the previous solution, held during each fit (no reward for a larger model)
        held[:] = sds(theta, rel, oob_rel)
        fit = least_squares(residuals, theta, method="trf", x_scale="jac", diff_step=1e-6)
        theta = fit.x
        rel, oob_rel = _unmodelled(data, models(theta), fit.jac, len(data) * len(channels))
    held[:] = sds(theta, rel, oob_rel)
    jac = least_squares(residuals, theta, method="trf", x_scale="jac", diff_step=1e-6, max_nfev=1).jac
    cov = np.linalg.pinv(jac.T @ jac)
    log_g, shift, log_o, tilt, src = unpack(theta)
    variance = np.diag(cov)
    # the gains' common part is the irradiance scale's (set against a reference meter): each channel's relative to
    # Clear's (no filter: the channel the references' amplitudes are read by); the out-of-band response's level is
    # gain x level, relative to Clear's gain too
    contrast = np.eye(n_gain)
    contrast[:, chip.index_of(Role.BROADBAND)] -= 1.0
    var_g = np.diag(contrast @ cov[:n_gain, :n_gain] @ contrast.T)
    var_shift = np.zeros(n_gain)
    var_shift[shifted] = variance[n_gain:n_gain + n_shift]
    cov_gain_shift = np.zeros(n_gain)
    for n, c in enumerate(shifted):
        cov_gain_shift[c] = float(contrast[c] @ cov[:n_gain, n_gain + n])
    # the out-of-band level's posterior in red light and in NIR light (with its slope, where it is fitted)
    var_oob, var_oob_nir = np.zeros(n_gain), np.zeros(n_gain)
    for n, c in enumerate(leaking):
        o = n_gain + n_shift + n
        for var, at_nm in ((var_oob, RED_LIGHT_NM), (var_oob_nir, NIR_LIGHT_REF_NM)):
            a = np.zeros(len(theta))
            a[:n_gain], a[o] = contrast[c], 1.0  # relative to Clear's, as the in-band gains (common part: the scale's)
            if n_tilt:
                a[o + n_oob] = (at_nm - OOB_TILT_ORIGIN_NM) / OOB_TILT_SPAN_NM
            var[c] = float(a @ cov @ a)
    reference_u = min(k[3] for k in keys)
    rel_u = np.sqrt(var_g + rel**2)
    # a fitted centre's u is its posterior's: the references' stated peak u is in it already (each reference's peak
    # is a parameter with that prior, traded against the centres), so it is a floor here, not a second term
    shift_u = np.array([max(math.sqrt(var_shift[c]), SHIFT_FLOOR_NM) if c in shifted
                        else float(prior.shift_nm[c]) for c in range(n_gain)])
    # d R / d shift = -slope: a gain up and a centre up (response seen further red) trade against each other
    model_u = ModelUncertainty(
        rel=tuple(float(u) for u in rel_u), shift_nm=tuple(float(u) for u in shift_u), oob=tuple(prior.oob),
        oob_rel=tuple(float(math.sqrt(var_oob[c] + oob_rel[c] ** 2)) if parts.leaks[c] else 0.0 for c in range(n_gain)),
        oob_rel_nir=tuple(float(math.sqrt(var_oob_nir[c] + oob_rel[c] ** 2)) if parts.leaks[c] else 0.0
                          for c in range(n_gain)),
        tilt_per_100nm=tuple(max((CALIBRATED_TILT.get(role, 0.0) for role in spec.roles), default=0.0)
                             for spec in chip.channel_specs),
        tilt_origin_nm=_tilt_origins(chip, [k[0] for k in keys]),
        rel_shift_corr=tuple(float(np.clip(cov_gain_shift[c] / (rel_u[c] * shift_u[c]), -0.98, 0.98))
                             if shift_u[c] > 0 else 0.0 for c in range(n_gain)))
    # the peak floor: the references' own stated u (k=2), common to every reading; the filter centres' posterior u
    # is in model_u.shift_nm already, which the estimate's profile interval carries (a floor from it counted it twice)
    floor = {band: max(PEAK_FLOOR_MIN_NM[band], 1.0 * min(
        [k[3] for k in keys if (k[0] < NIR_FROM_NM) == (band == "red")] or [reference_u])) for band in ("red", "nir")}
    residuals_rel = [float(np.sqrt(np.mean(((y - total) / max(float(np.max(y)), 1e-12)) ** 2)))
                     for (y, _v), (total, _oob) in zip(data, models(theta), strict=True)]
    return SpectralFit(tuple(float(math.exp(g)) for g in log_g), tuple(float(d) for d in shift), model_u, floor,
                       [float(src[s][1]) for s in range(len(keys))], residuals_rel, keys,
                       tuple(float(math.exp(o)) if parts.leaks[c] else 1.0 for c, o in enumerate(log_o)),
                       (float(np.max(rel)), float(np.max(oob_rel))), tuple(float(t) for t in tilt) if n_tilt else ())


def _tilt_origins(chip: SpectralChip, reference_peaks_nm: Sequence[float]) -> tuple[float, ...]:
    """Per channel, where the calibration pins its response (its tilt's u grows from there): the NIR channel at the
    NIR reference nearest its peak (its gain and centre are fitted there, relative to the broadband channel), every
    other channel at the irradiance reference (TILT_ORIGIN_NM: the broadband channel reads the references'
    amplitudes, which the meter sets). A NIR reference of unknown irradiance pins the NIR channel relative to the
    broadband one only; the level of both there, the part's tilt from 660 nm, stays unknown and is carried as a
    term common to every channel (:func:`rig.spectrum.referenced.common_tilt_u`)."""
    nir = [p for p in reference_peaks_nm if p >= NIR_FROM_NM]
    peaks = chip.channel_peaks_nm
    return tuple(float(min(nir, key=lambda p: abs(p - peaks.get(spec.name, p)))) if nir and Role.NIR in spec.roles
                 else TILT_ORIGIN_NM for spec in chip.channel_specs)


def _unmodelled(data: list[tuple[np.ndarray, np.ndarray]], models: list[tuple[np.ndarray, np.ndarray]],
                jac: np.ndarray, n_data: int) -> tuple[np.ndarray, np.ndarray]:
    """What the corrections cannot absorb, from the fit's own residuals, per channel: the relative in-band term
    (from the points where a reference reaches that channel in band) and the out-of-band one (from the points a
    reference reaches it only out of band), each the size that makes those points' chi-square equal their degrees
    of freedom (each data point counts 1 less its leverage: the parameters the data, not the priors, fix), at least
    its floor; a channel without such points takes the value of all of them together. Per channel, because a
    part's curves differ from the table's by shape (a skew, a width, Clear's tilt between red and NIR, a leakage
    level that differs in red and NIR light), so the residual one channel leaves says little about another's."""
    j_data = jac[:n_data]
    leverage = np.einsum("ij,jk,ik->i", j_data, np.linalg.pinv(jac.T @ jac), j_data)
    y = np.concatenate([d[0] for d in data])
    var = np.concatenate([d[1] for d in data])
    total = np.concatenate([m[0] for m in models])
    oob = np.concatenate([m[1] for m in models])
    var = var + np.concatenate([np.full(len(m[0]), (SD_FLOOR_REL * np.max(m[0])) ** 2) for m in models])
    inband = np.maximum(total - oob, 0.0)
    r2 = (y - total) ** 2
    n_channels = len(data[0][0])
    channel = np.arange(len(y)) % n_channels

    def size(group: np.ndarray, part: np.ndarray, floor: float) -> float:
        """The relative size of ``part`` that brings the group's chi-square to its degrees of freedom (at most
        ``UNMODELLED_CEILING``: a channel that far off tells nothing more)."""
        dof = max(float(np.sum(1.0 - leverage[group])), 0.5)
        r2_g, var_g, part_g = r2[group], var[group], part[group]

        def chi2(x: float) -> float:
            return float(np.sum(r2_g / (var_g + (x * part_g) ** 2)))

        if chi2(floor) <= dof:
            return floor
        low, high = floor, 2 * floor
        while chi2(high) > dof and high < UNMODELLED_CEILING:
            low, high = high, 2 * high
        for _ in range(40):
            middle = math.sqrt(low * high)
            low, high = (middle, high) if chi2(middle) > dof else (low, middle)
        return min(high, UNMODELLED_CEILING)

    def each(points: np.ndarray, part: np.ndarray, floor: float) -> np.ndarray:
        """Per channel from its own points; a channel without any takes the value of all the points together."""
        pooled = size(points, part, floor)
        return np.array([size(points & (channel == c), part, floor) if np.any(points & (channel == c)) else pooled
                         for c in range(n_channels)])

    per_channel = each(inband >= oob, inband, UNMODELLED_FLOOR[0])
    return per_channel, each(oob > inband, oob, UNMODELLED_FLOOR[1])


class _Parts:
    """The table's in-band and out-of-band parts, and the corrected model of a reference line through them."""

    def __init__(self, table: Responsivity):
        self.inband = Responsivity(table.wavelengths_nm, table.matrix * (1.0 - out_of_band_mask(table)),
                                   chip=table.chip)
        self.oob = out_of_band(table)
        self.leaks = self.oob.matrix.max(axis=0) > 0

    def model(self, log_g: np.ndarray, shift: np.ndarray, log_o: np.ndarray, source: np.ndarray,
              tilt: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Basic counts per channel of a source (log amplitude, peak, FWHM): the total and its out-of-band part
        (``tilt``: each channel's leakage slope, taken at the source's peak)."""
        log_a, peak, fwhm = source
        fwhm = max(fwhm, 2.0)
        inband = np.diagonal(self.inband.line_responses(peak - shift, fwhm))  # channel c seen at peak - shift_c
        level = log_o if tilt is None else log_o + tilt * (peak - OOB_TILT_ORIGIN_NM) / OOB_TILT_SPAN_NM
        oob = np.exp(level) * self.oob.line_responses(np.array([peak]), fwhm)[0]
        scale = math.exp(log_a) * np.exp(log_g)
        return scale * (inband + oob), scale * oob


def add_references(calibration_file, new: Sequence[ReferenceReading], transmission: float) -> SpectralFit:
    """Refit the spectral calibration of ``calibration_file`` (a :class:`rig.calibration.file.CalibrationFile`) with
    its stored reference readings plus ``new``, and store corrections, uncertainties and provenance in it."""
    from datetime import UTC, datetime

    from rig.calibration.file import SpectralReadingRecord, SpectralReference

    stored = [ReferenceReading(tuple(r.counts), r.gain_x, r.t_int_ms, r.reference_peak_nm,
                               r.reference_fwhm_nm or None, r.reference_u_nm, r.reference_mw_cm2 or None)
              for r in calibration_file.spectral_readings]
    readings = stored + list(new)
    fit = fit_spectral(readings, Responsivity.load(chip=calibration_file.spectral_chip), transmission,
                       calibration_file.dark_counts or None, gain_factors=tuple(calibration_file.gain_factors))
    f = calibration_file
    f.spectral_created = datetime.now(UTC).isoformat(timespec="seconds")
    f.spectral_gains = [round(g, 6) for g in fit.gains]
    f.spectral_shifts_nm = [round(d, 4) for d in fit.shifts_nm]
    f.spectral_u_rel = [round(u, 6) for u in fit.model_u.rel]
    f.spectral_u_shift_nm = [round(u, 4) for u in fit.model_u.shift_nm]
    f.spectral_u_oob = [round(u, 6) for u in fit.model_u.oob]
    f.spectral_oob_factors = [round(o, 6) for o in fit.oob_factors]
    f.spectral_u_oob_rel = [round(u, 6) for u in fit.model_u.oob_rel]
    f.spectral_oob_tilts = [round(t, 6) for t in fit.oob_tilts]
    f.spectral_u_oob_rel_nir = [round(u, 6) for u in fit.model_u.oob_rel_nir]
    f.spectral_u_rel_shift_corr = [round(r, 6) for r in fit.model_u.rel_shift_corr]
    f.spectral_u_tilt_per_100nm = [round(t, 6) for t in fit.model_u.tilt_per_100nm]
    f.spectral_u_tilt_origin_nm = [round(o, 2) for o in fit.model_u.tilt_origins_nm()]
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
