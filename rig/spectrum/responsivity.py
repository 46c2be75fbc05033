"""The responsivity table of a spectral chip (:class:`Responsivity`, carrying its :class:`~rig.chips.SpectralChip`)
and the per-channel corrections a spectral calibration makes to it.

A table (``rig/data/<chip's responsivity_file>``, shipped as package data) gives raw counts per (uW/cm2 of a
narrow line) per ms at 64x gain, one column per channel of its chip. Every estimate takes its channels, their
count, the full scale and the gain ratios from the table's chip. No pandas here: this runs on the Pi's
sampling path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import numpy as np

from rig.chips import DEFAULT_CHIP, Role, SpectralChip


def gain_code(gain_x: float, chip: SpectralChip | None = None) -> int:
    """Register code for a nominal gain on ``chip`` (default: the default chip)."""
    return (chip or DEFAULT_CHIP).gain_code(gain_x)


def gain_ratio(gain_x: float, chip: SpectralChip | None = None) -> float:
    """Measured sensitivity relative to 64x for a nominal gain on ``chip`` (default: the default chip)."""
    return (chip or DEFAULT_CHIP).gain_ratio(float(gain_x))


GAIN_RATIO_U_REL = 0.02  # standard u of a part's gain ratio vs 64x (datasheet +/-5 %, taken as a 2.5-sigma limit)


def gain_ratio_u(gain_x: float, calibrated: bool, scale_gains_x: tuple[float, ...] = (),
                 u_per_gain: Mapping[float, float] | None = None) -> float:
    """Standard relative uncertainty a reading at ``gain_x`` takes from the part's gain ratios (each code's ratio vs
    64x off by its own u, independently: ``u_per_gain`` per nominal gain, measured by ``rig calibrate gains``;
    without it or for a gain it lacks, ``GAIN_RATIO_U_REL``; 64x exact by definition): uncalibrated, its own ratio
    vs 64x (the table's gain). Calibrated, the reading's ratio against the scale's: ``scale_gains_x`` the gains of
    the irradiance readings the scale was fitted to (the scale carries their mean error), so a reading at the
    calibration's own gain takes none; unknown (empty), two independent ratios (one when the reading is at 64x)."""
    def u_of(g: float) -> float:
        if float(g) == 64.0:
            return 0.0
        return (u_per_gain or {}).get(float(g), GAIN_RATIO_U_REL)

    own = u_of(gain_x)
    if not calibrated:
        return own
    if not scale_gains_x:
        return math.hypot(own, GAIN_RATIO_U_REL)
    n = len(scale_gains_x)
    shares: dict[float, float] = {}
    for g in scale_gains_x:
        shares[float(g)] = shares.get(float(g), 0.0) + 1.0 / n
    scale_var = sum((w * u_of(g)) ** 2 for g, w in shares.items())  # the mean error of the scale's readings
    var = own**2 + scale_var - 2.0 * own**2 * shares.get(float(gain_x), 0.0)
    return math.sqrt(max(var, 0.0))


def integration_time_ms(atime: int, astep: int, chip: SpectralChip | None = None) -> float:
    """t_int = (ATIME + 1) x (ASTEP + 1) x the chip's step, in ms."""
    return (chip or DEFAULT_CHIP).integration_time_ms(atime, astep)


def full_scale_counts(atime: int, astep: int, chip: SpectralChip | None = None) -> int:
    """Digital full scale: min(the chip's register maximum, (ATIME + 1) x (ASTEP + 1))."""
    return (chip or DEFAULT_CHIP).full_scale_counts(atime, astep)


def default_table_path(chip: SpectralChip | None = None) -> Path:
    return (chip or DEFAULT_CHIP).responsivity_path()


class Responsivity:
    """The channel responsivity table of ``chip`` (one column per channel, chip order) and line responses
    computed from it."""

    def __init__(self, wavelengths_nm: np.ndarray, matrix: np.ndarray, source: str = "",
                 chip: SpectralChip | None = None) -> None:
        self.wavelengths_nm = np.asarray(wavelengths_nm, dtype=float)
        self.matrix = np.asarray(matrix, dtype=float)
        self.source = source
        self.chip = chip or DEFAULT_CHIP
        if self.matrix.ndim == 2 and self.matrix.shape[1] != self.chip.n_channels:
            raise ValueError(f"a {self.chip.name} table needs {self.chip.n_channels} channel columns, "
                             f"got {self.matrix.shape[1]}")
        self._cache: dict[tuple[float, float], np.ndarray] = {}

    @classmethod
    def load(cls, path: str | Path | None = None, chip: SpectralChip | None = None) -> Responsivity:
        """The table at ``path`` (default: ``chip``'s typical table), for ``chip`` (default: the default chip)."""
        chip = chip or DEFAULT_CHIP
        path = Path(path) if path is not None else default_table_path(chip)
        return _load_cached(str(path), chip.name)

    def line_response(self, peak_nm: float, fwhm_nm: float) -> np.ndarray:
        """Raw counts per (uW/cm2 of a Gaussian line) per ms at 64x, for each channel of the table's chip."""
        key = (round(float(peak_nm), 2), round(float(fwhm_nm), 2))
        cached = self._cache.get(key)
        if cached is None:
            cached = self.line_responses(np.array([key[0]]), key[1])[0]
            if len(self._cache) > 20000:
                self._cache.clear()
            self._cache[key] = cached
        return cached

    def line_responses(self, peaks_nm: np.ndarray, fwhm_nm: float) -> np.ndarray:
        """Vectorised :meth:`line_response`: one row per peak (unit-area Gaussian on the 1 nm grid)."""
        wl = self.wavelengths_nm
        step = wl[1] - wl[0]
        sigma = fwhm_nm / 2.3548200450309493
        weights = np.exp(-0.5 * ((wl[None, :] - np.asarray(peaks_nm, float)[:, None]) / sigma) ** 2)
        weights /= weights.sum(axis=1, keepdims=True) * step
        return weights @ self.matrix * step


@lru_cache(maxsize=8)
def _load_cached(path: str, chip_name: str) -> Responsivity:
    from rig.chips import spectral_chip

    chip = spectral_chip(chip_name)
    chip.check_table_columns(path)
    comments = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.startswith("#"):
                break
            comments.append(line[1:].strip())
    data = np.loadtxt(path, delimiter=",", skiprows=len(comments) + 1)
    source = next((c.split(":", 1)[1].strip() for c in comments if c.startswith("source:")), path)
    return Responsivity(data[:, 0], data[:, 1:], source, chip)


OOB_START_FWHM, OOB_RAMP_FWHM = 0.5, 1.0  # out of band: from half a FWHM beyond the half-maximum edges, fully 1 FWHM on


@lru_cache(maxsize=32)
def out_of_band_mask(table: Responsivity) -> np.ndarray:
    """Per wavelength and channel (rows x channels), the share of the table that is *out of band*: 0 within the
    channel's half-maximum band and half a FWHM beyond it, rising linearly to 1 over the next FWHM. Clear (no
    filter) has no out-of-band part. The in-band part follows the filter (its centre shifts); the out-of-band
    part (blocking leakage, F1-F5 at 2-7 % of peak in red and NIR light in the templates) is its own level per
    part: 0.1x-3x the templates' in published digitisations."""
    wl, matrix = table.wavelengths_nm, table.matrix
    mask = np.zeros_like(matrix)
    broadband = table.chip.indices_of(Role.BROADBAND)
    for c in range(table.chip.n_channels):
        if c in broadband:
            continue
        curve = matrix[:, c]
        top = int(np.argmax(curve))
        half = curve >= 0.5 * curve[top]
        low = top
        while low > 0 and half[low - 1]:
            low -= 1
        high = top
        while high < len(curve) - 1 and half[high + 1]:
            high += 1
        fwhm = max(float(wl[high] - wl[low]), 1.0)
        outside = np.maximum(wl[low] - wl, 0.0) + np.maximum(wl - wl[high], 0.0)
        mask[:, c] = np.clip((outside - OOB_START_FWHM * fwhm) / (OOB_RAMP_FWHM * fwhm), 0.0, 1.0)
    return mask


@lru_cache(maxsize=32)
def out_of_band(table: Responsivity) -> Responsivity:
    """The out-of-band part of the table (:func:`out_of_band_mask` x the table); the in-band part is the rest."""
    return Responsivity(table.wavelengths_nm, table.matrix * out_of_band_mask(table), f"{table.source} (out of band)",
                        table.chip)


OOB_TILT_ORIGIN_NM, OOB_TILT_SPAN_NM = 750.0, 200.0  # a leakage slope t: level x exp(t (lambda - 750) / 200)


@lru_cache(maxsize=32)
def corrected(table: Responsivity, gains: tuple[float, ...], shifts_nm: tuple[float, ...],
              oob_factors: tuple[float, ...] | None = None, oob_tilts: tuple[float, ...] | None = None
              ) -> Responsivity:
    """The table with per-channel corrections (spectral calibration):
    R'_c(lambda) = gain_c x (I_c(lambda - shift_c) + oob_c x exp(t_c (lambda - 750) / 200) x O_c(lambda)), I and O the
    table's in-band and out-of-band parts (:func:`out_of_band_mask`). ``oob_factors`` None: all 1 (the table's own
    leakage); ``oob_tilts`` None: all 0 (one level at every wavelength)."""
    oob_factors = oob_factors or (1.0,) * len(gains)
    oob_tilts = oob_tilts or (0.0,) * len(gains)
    if all(g == 1.0 for g in gains) and all(s == 0.0 for s in shifts_nm) and all(o == 1.0 for o in oob_factors) \
            and all(t == 0.0 for t in oob_tilts):
        return table
    wl = table.wavelengths_nm
    mask = out_of_band_mask(table)
    inband, oob = table.matrix * (1.0 - mask), table.matrix * mask
    x = (wl - OOB_TILT_ORIGIN_NM) / OOB_TILT_SPAN_NM
    columns = [g * (np.interp(wl - s, wl, inband[:, c], left=0.0, right=0.0) + o * np.exp(t * x) * oob[:, c])
               for c, (g, s, o, t) in enumerate(zip(gains, shifts_nm, oob_factors, oob_tilts, strict=True))]
    return Responsivity(wl, np.column_stack(columns), f"{table.source} (per-sensor spectral correction)", table.chip)


@lru_cache(maxsize=32)
def tilted(table: Responsivity, tilt_per_100nm: float, origin_nm: float) -> Responsivity:
    """The table with every channel's response times ``1 + tilt x (lambda - origin) / 100 nm`` (the irradiance
    calibration's wavelength slope, fitted from meter readings at two or more wavelengths); 0: the table."""
    if tilt_per_100nm == 0.0:
        return table
    factor = np.clip(1.0 + tilt_per_100nm * (table.wavelengths_nm - origin_nm) / 100.0, 0.05, None)
    return Responsivity(table.wavelengths_nm, table.matrix * factor[:, None],
                        f"{table.source} (irradiance tilt {tilt_per_100nm:+.4f} per 100 nm)", table.chip)
