"""AS7341 channel facts shared by the driver code, the simulator and the analysis.

Gains use the datasheet's *measured* ratios (DS000504), not powers of two.
The responsivity table (``calibration/responsivity.csv``, shipped as package
data) gives raw counts per (uW/cm2 of a narrow line) per ms at 64x gain.
No pandas here: this runs on the Pi's sampling path.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np

from rig.chips.as7341 import CHANNELS, GAIN_CODES_X, GAIN_RATIO_VS_64X, STEP_US  # noqa: F401 - re-exported
from rig.chips.as7341 import CHIP as TABLE_CHIP

# TABLE_CHIP: the chip the names above, the default table and so (until they take a chip) rig.spectrum's estimate,
# calibration and re-analysis are for. A run on another chip records raw counts and marks the estimate NOT
# MEASURED (rig.run.context.estimate_unavailable); code that has its chip uses chip.channels, chip.gain_ratio,
# chip.load_responsivity() instead.


def gain_code(gain_x: float) -> int:
    """Register code (0..10) for a nominal gain (0.5x .. 512x)."""
    try:
        return GAIN_CODES_X.index(gain_x)
    except ValueError:
        raise ValueError(f"gain {gain_x!r} is not one of {GAIN_CODES_X}") from None


def gain_ratio(gain_x: float) -> float:
    """Measured sensitivity relative to 64x for a nominal gain."""
    return GAIN_RATIO_VS_64X[gain_code(float(gain_x))]


GAIN_RATIO_U_REL = 0.02  # standard u of a part's gain ratio vs 64x (datasheet +/-5 %, taken as a 2.5-sigma limit)


def gain_ratio_u(gain_x: float, calibrated: bool, scale_gains_x: tuple[float, ...] = ()) -> float:
    """Standard relative uncertainty a reading at ``gain_x`` takes from the part's gain ratios (each code's ratio vs
    64x off by ``GAIN_RATIO_U_REL``, 64x exact by definition): uncalibrated, its own ratio vs 64x (the table's gain).
    Calibrated, the reading's ratio against the scale's: ``scale_gains_x`` the gains of the irradiance readings the
    scale was fitted to (the scale carries their mean error), so a reading at the calibration's own gain takes none;
    unknown (empty), two independent ratios (one when the reading is at 64x)."""
    own = 0.0 if float(gain_x) == 64.0 else 1.0
    if not calibrated:
        return own * GAIN_RATIO_U_REL
    if not scale_gains_x:
        return GAIN_RATIO_U_REL * (1.0 if own == 0.0 else math.sqrt(2.0))
    n = len(scale_gains_x)
    shares: dict[float, float] = {}
    for g in scale_gains_x:
        shares[float(g)] = shares.get(float(g), 0.0) + 1.0 / n
    scale_var = sum(w * w for g, w in shares.items() if g != 64.0)  # the mean error of the scale's readings
    var = own + scale_var - 2.0 * own * shares.get(float(gain_x), 0.0)
    return GAIN_RATIO_U_REL * math.sqrt(max(var, 0.0))


def integration_time_ms(atime: int, astep: int) -> float:
    """t_int = (ATIME + 1) x (ASTEP + 1) x 2.78 us, in ms."""
    return (atime + 1) * (astep + 1) * STEP_US / 1000.0


def full_scale_counts(atime: int, astep: int) -> int:
    """Digital full scale: min(65535, (ATIME + 1) x (ASTEP + 1))."""
    return min(65535, (atime + 1) * (astep + 1))


def default_table_path() -> Path:
    return TABLE_CHIP.responsivity_path()


class Responsivity:
    """The channel responsivity table and line responses computed from it."""

    def __init__(self, wavelengths_nm: np.ndarray, matrix: np.ndarray, source: str = "") -> None:
        self.wavelengths_nm = np.asarray(wavelengths_nm, dtype=float)
        self.matrix = np.asarray(matrix, dtype=float)
        self.source = source
        self._cache: dict[tuple[float, float], np.ndarray] = {}

    @classmethod
    def load(cls, path: str | Path | None = None) -> Responsivity:
        path = Path(path) if path is not None else default_table_path()
        return _load_cached(str(path))

    def line_response(self, peak_nm: float, fwhm_nm: float) -> np.ndarray:
        """Raw counts per (uW/cm2 of a Gaussian line) per ms at 64x, for each channel (10 values)."""
        key = (round(float(peak_nm), 2), round(float(fwhm_nm), 2))
        cached = self._cache.get(key)
        if cached is None:
            cached = self.line_responses(np.array([key[0]]), key[1])[0]
            if len(self._cache) > 20000:
                self._cache.clear()
            self._cache[key] = cached
        return cached

    def line_responses(self, peaks_nm: np.ndarray, fwhm_nm: float) -> np.ndarray:
        """Vectorised :meth:`line_response`: one row of 10 per peak (unit-area Gaussian on the 1 nm grid)."""
        wl = self.wavelengths_nm
        step = wl[1] - wl[0]
        sigma = fwhm_nm / 2.3548200450309493
        weights = np.exp(-0.5 * ((wl[None, :] - np.asarray(peaks_nm, float)[:, None]) / sigma) ** 2)
        weights /= weights.sum(axis=1, keepdims=True) * step
        return weights @ self.matrix * step


@lru_cache(maxsize=8)
def _load_cached(path: str) -> Responsivity:
    comments = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.startswith("#"):
                break
            comments.append(line[1:].strip())
    data = np.loadtxt(path, delimiter=",", skiprows=len(comments) + 1)
    source = next((c.split(":", 1)[1].strip() for c in comments if c.startswith("source:")), path)
    return Responsivity(data[:, 0], data[:, 1:], source)


OOB_START_FWHM, OOB_RAMP_FWHM = 0.5, 1.0  # out of band: from half a FWHM beyond the half-maximum edges, fully 1 FWHM on


@lru_cache(maxsize=32)
def out_of_band_mask(table: Responsivity) -> np.ndarray:
    """Per wavelength and channel (rows x 10), the share of the table that is *out of band*: 0 within the
    channel's half-maximum band and half a FWHM beyond it, rising linearly to 1 over the next FWHM. Clear (no
    filter) has no out-of-band part. The in-band part follows the filter (its centre shifts); the out-of-band
    part (blocking leakage, F1-F5 at 2-7 % of peak in red and NIR light in the templates) is its own level per
    part: 0.1x-3x the templates' in published digitisations."""
    wl, matrix = table.wavelengths_nm, table.matrix
    mask = np.zeros_like(matrix)
    for c, name in enumerate(CHANNELS):
        if name == "Clear":
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
    return Responsivity(table.wavelengths_nm, table.matrix * out_of_band_mask(table), f"{table.source} (out of band)")


@lru_cache(maxsize=32)
def corrected(table: Responsivity, gains: tuple[float, ...], shifts_nm: tuple[float, ...],
              oob_factors: tuple[float, ...] | None = None) -> Responsivity:
    """The table with per-channel corrections (spectral calibration):
    R'_c(lambda) = gain_c x (I_c(lambda - shift_c) + oob_c x O_c(lambda)), I and O the table's in-band and
    out-of-band parts (:func:`out_of_band_mask`). ``oob_factors`` None: all 1 (the table's own leakage)."""
    oob_factors = oob_factors or (1.0,) * len(gains)
    if all(g == 1.0 for g in gains) and all(s == 0.0 for s in shifts_nm) and all(o == 1.0 for o in oob_factors):
        return table
    wl = table.wavelengths_nm
    mask = out_of_band_mask(table)
    inband, oob = table.matrix * (1.0 - mask), table.matrix * mask
    columns = [g * (np.interp(wl - s, wl, inband[:, c], left=0.0, right=0.0) + o * oob[:, c])
               for c, (g, s, o) in enumerate(zip(gains, shifts_nm, oob_factors, strict=True))]
    return Responsivity(wl, np.column_stack(columns), f"{table.source} (per-sensor spectral correction)")
