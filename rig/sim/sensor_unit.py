"""A simulated AS7341 is a *unit* drawn from the production spread, never the estimator's typical table.

The typical curves (``calibration/responsivity.csv``, the manufacturer's templates) are what a datasheet
promises on average; a real part differs. Each unit here is drawn, repeatably from (sensor id, seed), as

    R_unit,c(lambda) = g_c * [I_c(lambda_c + (lambda - lambda_c - d_c) / s_c) * (1 + k_c (lambda - lambda_c) / 100 nm)
                              + o_c * exp(t_c (lambda - 750 nm) / 200 nm) * O_c(lambda)]

per channel c with peak wavelength lambda_c, I_c and O_c the typical curve's in-band and out-of-band parts
(:func:`rig.spectrum.responsivity.out_of_band_mask`): sensitivity ``g_c``, centre offset ``d_c``, width factor ``s_c``,
a linear skew ``k_c`` of the passband, and an out-of-band level ``o_c`` with a tilt ``t_c`` (so a part's
leakage in red and in NIR light differ by more than one factor). Clear has no interference filter: no offset,
width change or out-of-band part, only its sensitivity and a silicon tilt. Each gain ratio vs 64x is off by a
factor too.

The spread and where it comes from (``SensorSpread`` defaults, all standard deviations):

- centre offset 2.5 nm, truncated at +/-10 nm: DS000504 / DS000718 give filter centres as typ +/-10 nm
  (e.g. F8 min 670, typ 680, max 690 nm), taken as a production limit at process capability Cpk 1.33
  (limits at +/-4 sigma, the usual minimum for a specified parameter).
- width 5 %, skew 0.08 per 100 nm: the datasheet gives FWHM as typical only; the two public
  digitisations of the "typical" curves (ams templates vs the datasheet figure in photobiologySensors)
  differ by this much in shape (F7 at 660 nm: 0.52 vs ~0.35 of its peak).
- sensitivity 10 % per channel (log-normal): the datasheet has no min/max at all; 10 % is our assumption,
  of the order of the residuals of the typical curves against the datasheet's own typical counts
  (+/-10 %, see the table's header) and of ams's note that per-device calibration "beats a generic one by a
  wide margin" (AN000633).
- out-of-band level log-uniform in 0.1x-3x the templates' (every filter channel), tilt sd 0.3 per 200 nm: the
  templates keep F1-F4 at 2-7 % of their peak in 600-1000 nm, another digitisation of the same datasheet
  figure puts them near a tenth of that at 660 nm; a part may lie anywhere between, or above.
- gain ratio 2 %, truncated at +/-5 %: the datasheet's +/-5 % on the gain ratios (0.5x: 0.007-0.009 of 64x).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from rig.chips import Role
from rig.errors import ConfigError
from rig.spectrum.responsivity import Responsivity, out_of_band_mask


@dataclass
class SensorSpread:
    """Production spread of AS7341 parts (standard deviations); ``scale`` multiplies all of them.

    Set in a simulated wrap's ``[sensor]`` table. ``scale = 0`` gives a part exactly on the typical
    curves: useful for diagnostics only, never a test of the estimator.
    """

    scale: float = 1.0
    centre_nm: float = 2.5
    centre_limit_nm: float = 10.0
    width_rel: float = 0.05
    skew_per_100nm: float = 0.08
    sensitivity_rel: float = 0.10
    out_of_band_low: float = 0.1  # out-of-band level, x the templates' (log-uniform between low and high)
    out_of_band_high: float = 3.0
    out_of_band_tilt: float = 0.3
    gain_rel: float = 0.02
    gain_limit_rel: float = 0.05
    unit: str = ""  # unit label (default: the bench's spectral.sensor_id)

    def validate(self, path: str = "", prefix: str = "sensor") -> SensorSpread:
        for key in ("scale", "centre_nm", "centre_limit_nm", "width_rel", "skew_per_100nm", "sensitivity_rel",
                    "out_of_band_tilt", "gain_rel", "gain_limit_rel"):
            value = getattr(self, key)
            if not 0 <= value <= (5 if key == "scale" else 50):
                raise ConfigError(path, f"{prefix}.{key}", "a spread >= 0", value)
        if not 0 < self.out_of_band_low <= 1 <= self.out_of_band_high <= 100:
            raise ConfigError(path, f"{prefix}.out_of_band_low", "0 < out_of_band_low <= 1 <= out_of_band_high <= 100",
                              (self.out_of_band_low, self.out_of_band_high))
        return self


def draw_passband(rng: np.random.Generator, scale: float, sensitivity_rel: float, centre_sd_nm: float,
                  centre_limit_nm: float, width_rel: float, skew_per_100nm: float) -> tuple[float, float, float, float]:
    """One channel's draw, in this order: sensitivity g (log-normal), centre offset d in nm (normal, truncated at
    +/- ``centre_limit_nm``), width factor s (log-normal) and skew k per 100 nm (normal); sds times ``scale``."""
    gain = float(np.exp(rng.normal(0.0, sensitivity_rel * scale)))
    offset = float(np.clip(rng.normal(0.0, centre_sd_nm * scale), -centre_limit_nm, centre_limit_nm))
    width = float(np.exp(rng.normal(0.0, width_rel * scale)))
    skew = float(rng.normal(0.0, skew_per_100nm * scale))
    return gain, offset, width, skew


def shifted_passband(wl: np.ndarray, curve: np.ndarray, peak_nm: float, offset_nm: float, width: float) -> np.ndarray:
    """``curve`` (peaking at ``peak_nm``) moved by ``offset_nm`` and stretched by ``width`` about its peak: zero
    where the shifted curve leaves the grid."""
    return np.interp(peak_nm + (wl - peak_nm - offset_nm) / width, wl, curve, left=0.0, right=0.0)


@dataclass(frozen=True)
class SensorUnit:
    """One drawn part: its own curves and gain ratios, and what was drawn (for diagnostics)."""

    unit_id: str
    responsivity: Responsivity
    gain_factors: tuple[float, ...]  # per gain code, multiplying the datasheet ratio vs 64x
    sensitivity: tuple[float, ...]
    centre_offset_nm: tuple[float, ...]

    @classmethod
    def typical(cls) -> SensorUnit:
        """A part exactly on the typical curves (diagnostics only)."""
        table = Responsivity.load()
        n = table.chip.n_channels
        return cls("typical", table, (1.0,) * len(table.chip.gain_codes_x), (1.0,) * n, (0.0,) * n)

    @classmethod
    def draw(cls, unit_id: str, seed: int = 0, spread: SensorSpread | None = None,
             typical: Responsivity | None = None) -> SensorUnit:
        """The unit labelled ``unit_id`` in production lot ``seed``: the same arguments give the same part."""
        spread = spread or SensorSpread()
        typical = typical or Responsivity.load()
        digest = hashlib.sha256(f"{unit_id}/{seed}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        leak_rng = np.random.default_rng(int.from_bytes(digest[8:16], "little"))  # leakage level and tilt
        s = spread.scale
        if s == 0:  # exactly the typical part
            n = typical.chip.n_channels
            return cls(unit_id, typical, (1.0,) * len(typical.chip.gain_codes_x), (1.0,) * n, (0.0,) * n)
        wl = typical.wavelengths_nm
        mask = out_of_band_mask(typical)
        log_oob = (np.log(spread.out_of_band_low), np.log(spread.out_of_band_high))
        columns, gains, offsets = [], [], []
        broadband = typical.chip.indices_of(Role.BROADBAND)
        for c in range(typical.chip.n_channels):
            curve = typical.matrix[:, c] * (1.0 - mask[:, c])
            leak = typical.matrix[:, c] * mask[:, c]
            peak_nm = float(wl[int(np.argmax(curve))])
            gain, offset, width, skew = draw_passband(rng, s, spread.sensitivity_rel, spread.centre_nm,
                                                      spread.centre_limit_nm, spread.width_rel, spread.skew_per_100nm)
            rng.normal()  # the retired additive leakage draw: a unit's other parameters stay as they were
            oob = float(np.exp(s * leak_rng.uniform(*log_oob)))
            tilt = float(leak_rng.normal(0.0, spread.out_of_band_tilt * s))
            if c in broadband:  # no interference filter: sensitivity and a gentle silicon tilt only
                offset, width = 0.0, 1.0
                skew *= 0.5
            shaped = shifted_passband(wl, curve, peak_nm, offset, width)
            shaped = shaped * np.clip(1.0 + skew * (wl - peak_nm) / 100.0, 0.0, None)
            shaped = shaped + oob * np.exp(tilt * (wl - 750.0) / 200.0) * leak
            columns.append(gain * np.clip(shaped, 0.0, None))
            gains.append(gain)
            offsets.append(offset)
        gain_factors = tuple(
            1.0 if x == 64 else float(np.clip(np.exp(rng.normal(0.0, spread.gain_rel * s)),
                                              1 - spread.gain_limit_rel, 1 + spread.gain_limit_rel))
            for x in typical.chip.gain_codes_x)
        table = Responsivity(wl, np.column_stack(columns), f"simulated unit {unit_id!r} (lot seed {seed})",
                             typical.chip)
        return cls(unit_id, table, gain_factors, tuple(gains), tuple(offsets))
