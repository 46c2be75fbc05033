"""A simulated AS7341 is a *unit* drawn from the production spread, never the estimator's typical table.

The typical curves (``calibration/responsivity.csv``, the manufacturer's templates) are what a datasheet
promises on average; a real part differs. Each unit here is drawn, repeatably from (sensor id, seed), as

    R_unit,c(lambda) = g_c * R_c(lambda_c + (lambda - lambda_c - d_c) / s_c) * (1 + k_c (lambda - lambda_c) / 100 nm)
                       + o_c * max_c(R_c) * B(lambda)          (F1-F6 only)

per channel c with peak wavelength lambda_c: sensitivity ``g_c``, centre offset ``d_c``, width factor ``s_c``,
a linear skew ``k_c`` of the passband and an extra out-of-band response ``o_c`` on a smooth red/NIR
pedestal B (0 below 580 nm, 1 from 650 nm to 1000 nm). Clear has no interference filter: no offset or
width change, only its sensitivity and a silicon tilt. Each gain ratio vs 64x is off by a factor too.

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
- out-of-band 1.5 % of the channel's peak (F1-F6): the templates keep 2-7 % out of band, the figure's
  digitisation less; a part differs from either.
- gain ratio 2 %, truncated at +/-5 %: the datasheet's +/-5 % on the gain ratios (0.5x: 0.007-0.009 of 64x).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from rig.errors import ConfigError
from rig.responsivity import CHANNELS, GAIN_CODES_X, Responsivity


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
    out_of_band_rel: float = 0.015
    gain_rel: float = 0.02
    gain_limit_rel: float = 0.05
    unit: str = ""  # unit label (default: the bench's spectral.sensor_id)

    def validate(self, path: str = "", prefix: str = "sensor") -> SensorSpread:
        for key in ("scale", "centre_nm", "centre_limit_nm", "width_rel", "skew_per_100nm", "sensitivity_rel",
                    "out_of_band_rel", "gain_rel", "gain_limit_rel"):
            value = getattr(self, key)
            if not 0 <= value <= (5 if key == "scale" else 50):
                raise ConfigError(path, f"{prefix}.{key}", "a spread >= 0", value)
        return self


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
        return cls("typical", Responsivity.load(), (1.0,) * len(GAIN_CODES_X), (1.0,) * 10, (0.0,) * 10)

    @classmethod
    def draw(cls, unit_id: str, seed: int = 0, spread: SensorSpread | None = None,
             typical: Responsivity | None = None) -> SensorUnit:
        """The unit labelled ``unit_id`` in production lot ``seed``: the same arguments give the same part."""
        spread = spread or SensorSpread()
        typical = typical or Responsivity.load()
        digest = hashlib.sha256(f"{unit_id}/{seed}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        s = spread.scale
        wl = typical.wavelengths_nm
        pedestal = np.clip((wl - 580.0) / 70.0, 0.0, 1.0) * np.clip((1100.0 - wl) / 100.0, 0.0, 1.0)
        columns, gains, offsets = [], [], []
        for c, name in enumerate(CHANNELS):
            curve = typical.matrix[:, c]
            peak_nm = float(wl[int(np.argmax(curve))])
            gain = float(np.exp(rng.normal(0.0, spread.sensitivity_rel * s)))
            offset = float(np.clip(rng.normal(0.0, spread.centre_nm * s), -spread.centre_limit_nm,
                                   spread.centre_limit_nm))
            width = float(np.exp(rng.normal(0.0, spread.width_rel * s)))
            skew = float(rng.normal(0.0, spread.skew_per_100nm * s))
            oob = float(rng.normal(0.0, spread.out_of_band_rel * s))
            if name == "Clear":  # no interference filter: sensitivity and a gentle silicon tilt only
                offset, width = 0.0, 1.0
                skew *= 0.5
            source_nm = peak_nm + (wl - peak_nm - offset) / width
            shaped = np.interp(source_nm, wl, curve, left=0.0, right=0.0)
            shaped = shaped * np.clip(1.0 + skew * (wl - peak_nm) / 100.0, 0.0, None)
            if name in CHANNELS[:6]:
                shaped = shaped + oob * curve.max() * pedestal
            columns.append(gain * np.clip(shaped, 0.0, None))
            gains.append(gain)
            offsets.append(offset)
        gain_factors = tuple(
            1.0 if x == 64 else float(np.clip(np.exp(rng.normal(0.0, spread.gain_rel * s)),
                                              1 - spread.gain_limit_rel, 1 + spread.gain_limit_rel))
            for x in GAIN_CODES_X)
        table = Responsivity(wl, np.column_stack(columns), f"simulated unit {unit_id!r} (lot seed {seed})")
        return cls(unit_id, table, gain_factors, tuple(gains), tuple(offsets))
