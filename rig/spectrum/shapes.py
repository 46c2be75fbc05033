"""Line shapes through the channel responsivity table, and the per-channel weights of a fit.

Everything here is batched over readings: arrays have a leading axis of rows (one per reading).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from rig.spectrum.model import (
    DARK_NOISE_COUNTS,
    NIR_LIGHT_NM,
    READ_NOISE_COUNTS,
    TILT_ORIGIN_NM,
    LineSpec,
    ModelUncertainty,
)
from rig.spectrum.responsivity import Responsivity, out_of_band

FWHM_PER_SIGMA = 2.3548200450309493
WINDOW_SIGMA = 7.0  # a line's Gaussian is cut at +/- this many sigma


@dataclass(frozen=True)
class Grid:
    """A line's search grid: every (peak, FWHM) pair, width-major (index = width_index x peaks + peak_index)."""

    spec: LineSpec
    peaks_nm: np.ndarray  # one per grid line
    fwhm_nm: np.ndarray
    responses: np.ndarray  # grid lines x 10: basic counts per uW/cm2
    d_peak: np.ndarray  # d responses / d peak (per nm)
    oob_responses: np.ndarray  # grid lines x 10: the out-of-band part of the responses
    tilt_responses: np.ndarray  # grid lines x 10: the responses x (peak - TILT_ORIGIN_NM) / 100 nm
    unique_peaks_nm: np.ndarray  # the peak grid, ascending

    @cached_property
    def responses_t(self) -> np.ndarray:
        """10 x grid lines (contiguous): the right operand of a batch's products with the grid."""
        return np.ascontiguousarray(self.responses.T)

    @cached_property
    def squared_t(self) -> np.ndarray:
        """10 x grid lines: the responses squared (a candidate's own weighted norm)."""
        return np.ascontiguousarray((self.responses**2).T)

    def per_peak(self, chi2: np.ndarray) -> np.ndarray:
        """Rows x peaks: the lowest chi-square over the widths at each grid peak."""
        return chi2.reshape(chi2.shape[0], -1, len(self.unique_peaks_nm)).min(axis=1)


@lru_cache(maxsize=16)
def grids(responsivity: Responsivity, lines: tuple[LineSpec, ...]) -> tuple[Grid, ...]:
    """The search grid of each line (cached per table and line list)."""
    out = []
    leak = out_of_band(responsivity)
    for spec in lines:
        peaks = spec.peak_grid_nm
        rows, derivs, leaks = [], [], []
        for width in spec.fwhm_nm:
            rows.append(responsivity.line_responses(peaks, width))
            leaks.append(leak.line_responses(peaks, width))
            derivs.append(responsivity.line_responses(peaks + 0.5, width)
                          - responsivity.line_responses(peaks - 0.5, width))
        out.append(Grid(spec, np.tile(peaks, len(spec.fwhm_nm)), np.repeat(np.asarray(spec.fwhm_nm), len(peaks)),
                        np.vstack(rows), np.vstack(derivs), np.vstack(leaks),
                        np.vstack(rows) * (np.tile(peaks, len(spec.fwhm_nm))[:, None] - TILT_ORIGIN_NM) / 100.0,
                        peaks))
    return tuple(out)


@lru_cache(maxsize=16)
def channel_peaks(responsivity: Responsivity) -> np.ndarray:
    """Each channel's peak responsivity (10 values)."""
    return responsivity.matrix.max(axis=0)


def line_shapes(responsivity: Responsivity, peak_nm: np.ndarray, fwhm_nm: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian lines' responses (rows x 10, basic counts per uW/cm2) and their d/dpeak and d/dFWHM.

    ``peak_nm``, ``fwhm_nm``: one per row. The Gaussian is normalised on the table's (uniform) wavelength grid
    within +/- ``WINDOW_SIGMA`` sigma of the peak; only that window of the table is read."""
    wl, matrix = responsivity.wavelengths_nm, responsivity.matrix
    peak = np.asarray(peak_nm, float)
    sigma = np.asarray(fwhm_nm, float) / FWHM_PER_SIGMA
    step = wl[1] - wl[0]
    half = int(np.ceil(WINDOW_SIGMA * sigma.max() / step)) + 1
    width = min(2 * half + 1, len(wl))
    start = np.clip(np.rint((peak - wl[0]) / step).astype(int) - half, 0, len(wl) - width)
    window = start[:, None] + np.arange(width)
    x = wl[window] - peak[:, None]
    s = sigma[:, None]
    z = x / s
    g = np.exp(-0.5 * z * z)
    g[(z < -WINDOW_SIGMA) | (z >= WINDOW_SIGMA)] = 0.0
    d_g_peak = g * (z / s)
    stacked = np.stack([g, d_g_peak, d_g_peak * z], axis=1)  # rows x (g, dg/dpeak, dg/dsigma) x window
    through = stacked @ matrix[window]  # rows x 3 x 10
    sums = stacked.sum(axis=2, keepdims=True)  # rows x 3 x 1
    response = through[:, 0] / sums[:, 0]
    d_peak = (through[:, 1] - response * sums[:, 1]) / sums[:, 0]
    d_fwhm = (through[:, 2] - response * sums[:, 2]) / sums[:, 0] / FWHM_PER_SIGMA
    return response, d_peak, d_fwhm


@dataclass(frozen=True)
class Noise:
    """Per-channel variance of a reading: counting noise plus the table's model uncertainty."""

    per_basic: np.ndarray  # rows: raw counts per basic count
    dark_raw: float
    model_u: ModelUncertainty
    channel_peaks: np.ndarray

    def take(self, rows: np.ndarray) -> Noise:
        return Noise(self.per_basic[rows], self.dark_raw, self.model_u, self.channel_peaks)

    def counting_weights(self, model: np.ndarray) -> np.ndarray:
        """1 / variance per channel from counting alone (no model uncertainty): is there light at all?"""
        per_basic = self.per_basic[:, None]
        raw_expected = np.maximum(model * per_basic, 0.0) + self.dark_raw
        return per_basic**2 / (raw_expected + READ_NOISE_COUNTS**2 + DARK_NOISE_COUNTS**2 + 1 / 12)

    def weights(self, model: np.ndarray, slope: np.ndarray, oob: np.ndarray, tilt: np.ndarray | None = None,
                nir: np.ndarray | None = None, oob_nir: np.ndarray | None = None) -> np.ndarray:
        """1 / variance per channel (rows x 10, basic counts^2) at this model (``slope``: d model / d lambda,
        signed; ``oob``: the model's out-of-band part; ``tilt``: the model x (peak - TILT_ORIGIN_NM) / 100 nm;
        ``nir``: the model's NIR light, lines from ``NIR_LIGHT_NM``; ``oob_nir``: that light's out-of-band part). The
        sensitivity and centre terms are correlated as a calibration fitted them (a channel's response is best known
        where its references were); the out-of-band level's u is red light's and NIR light's where a calibration fitted
        its slope between them (taken as fully correlated: an upper bound).

        A tilt grows from where the calibration pinned the channels' ratios for that light: red light from
        TILT_ORIGIN_NM, NIR light from the NIR reference when there was one (its level of unknown irradiance pins
        every channel relative to the broadband one there; the level itself, which moves all channels alike, is
        the irradiance's term: :mod:`rig.spectrum.referenced`)."""
        per_basic = self.per_basic[:, None]
        raw_expected = np.maximum(model * per_basic, 0.0) + self.dark_raw
        noise = (raw_expected + READ_NOISE_COUNTS**2 + DARK_NOISE_COUNTS**2 + 1 / 12) / per_basic**2
        u = self.model_u
        inband = np.asarray(u.rel) * np.maximum(model - oob, 0.0)
        shifted = np.asarray(u.shift_nm) * slope
        oob_red_u, oob_nir_u = u.oob_rel_by_light()
        in_nir = np.zeros_like(oob) if oob_nir is None else np.clip(oob_nir, 0.0, np.maximum(oob, 0.0))
        model_var = np.maximum(inband**2 + shifted**2 - 2.0 * np.asarray(u.rel_shift_corr) * inband * shifted, 0.0) \
            + (oob_red_u * (np.maximum(oob, 0.0) - in_nir) + oob_nir_u * in_nir) ** 2
        if tilt is not None:
            pin = float(np.max(u.tilt_origins_nm()))
            if nir is not None and pin >= NIR_LIGHT_NM:  # NIR light's tilt from the NIR reference
                tilt = tilt - nir * (pin - TILT_ORIGIN_NM) / 100.0
            else:  # the grid's tilt is about TILT_ORIGIN_NM: moved to each channel's own origin
                tilt = tilt - model * (u.tilt_origins_nm() - TILT_ORIGIN_NM) / 100.0
            model_var = model_var + (np.asarray(u.tilt_per_100nm) * tilt) ** 2
        return 1.0 / (noise + model_var)
