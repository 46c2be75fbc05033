"""``rig calibrate verify``: read a reference source against the active calibration without changing it.

The check a lab runs before a session: each reading is estimated with the calibration; the mean measured
value is compared with the reference, and the difference must lie within the combined expanded (k=2)
uncertainty of the measurement (the median of the readings' stated U: it is mostly systematic, so it does
not shrink with more readings) and of the reference (2 x its stated standard u).

Each quantity is what the reference can tell: a reference source is one line, so its meter's irradiance is
compared with the irradiance of the band at the reference's wavelength (red below ``RED_NIR_SPLIT_NM``, NIR
above; without a stated peak, the band carrying most of the light), with that band's U. The total would add
the other band's upper limit, which a one-line source does not test (after an irradiance-only calibration the
NIR band beside a red line is undetermined up to about a third of the light: a +/-35 % "U" that says nothing
about the scale being checked).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path

from rig.calibration.fit import Reading
from rig.chips import SpectralChip
from rig.errors import RigError
from rig.spectrum import Calibration, estimate
from rig.spectrum.counts_csv import read_counts_rows
from rig.spectrum.model import NIR_LIGHT_NM

RED_NIR_SPLIT_NM = NIR_LIGHT_NM  # a reference peak below this is compared with the red peak, above with the NIR peak


@dataclass(frozen=True)
class VerifyCheck:
    """One quantity: the reference (and its k=2 U), the calibrated measurement (and its k=2 U)."""

    quantity: str
    unit: str
    reference: float
    reference_u: float
    measured: float
    measured_u: float
    readings: int

    @property
    def error(self) -> float:
        return self.measured - self.reference

    @property
    def allowed(self) -> float:
        """The combined k=2 uncertainty of measurement and reference."""
        return math.hypot(self.measured_u, self.reference_u)

    @property
    def inside(self) -> bool:
        return abs(self.error) <= self.allowed


def verify(readings: list[Reading], calibration: Calibration, reference_mw_cm2: float | None,
           reference_u_rel: float, reference_peak_nm: float | None, reference_u_nm: float) -> list[VerifyCheck]:
    """The checks the references allow (irradiance if ``reference_mw_cm2``, the peak if ``reference_peak_nm``)."""
    if reference_mw_cm2 is None and reference_peak_nm is None:
        raise RigError("calibrate verify: give the reference's irradiance (--reference-mw-cm2) and/or its peak "
                       "(--reference-peak-nm)")
    if not readings:
        raise RigError("calibrate verify: no readings")
    estimates = []
    for reading in readings:
        if reading.saturated:
            raise RigError("calibrate verify: a saturated reading (lower the gain or add attenuation)")
        estimates.append(estimate(reading.counts, reading.gain_x, reading.t_int_ms, calibration))
    checks = []
    if reference_mw_cm2 is not None:
        if any(not e.irradiance_mw_cm2 for e in estimates):
            raise RigError("calibrate verify: no light measured in a reading (is the source on?)")
        band = _band(reference_peak_nm, estimates)
        values = [(getattr(e, f"{band}_irradiance_mw_cm2"), getattr(e, f"{band}_irradiance_u_mw_cm2"))
                  for e in estimates]
        if any(v is None or u is None for v, u in values):
            raise RigError(f"calibrate verify: no {band.upper() if band == 'nir' else band} irradiance in a reading")
        checks.append(_check(f"irradiance ({'NIR' if band == 'nir' else band} band)", "mW/cm2", reference_mw_cm2,
                             2 * reference_u_rel * reference_mw_cm2, values))
    if reference_peak_nm is not None:
        band = "red" if reference_peak_nm < RED_NIR_SPLIT_NM else "nir"
        values = [(getattr(e, f"{band}_peak_nm"), getattr(e, f"{band}_peak_u_nm")) for e in estimates]
        if any(v is None or u is None for v, u in values):
            raise RigError(f"calibrate verify: no {band.upper() if band == 'nir' else band} peak measured in a "
                           f"reading of the {reference_peak_nm:g} nm reference")
        checks.append(_check(f"{'NIR' if band == 'nir' else 'red'} peak", "nm", reference_peak_nm,
                             2 * reference_u_nm, values))
    return checks


def _band(reference_peak_nm: float | None, estimates: list) -> str:
    """The band of the reference's line: by its stated peak, else the band carrying most of the light."""
    if reference_peak_nm is not None:
        return "red" if reference_peak_nm < RED_NIR_SPLIT_NM else "nir"
    red = sum(e.red_irradiance_mw_cm2 or 0.0 for e in estimates)
    nir = sum(e.nir_irradiance_mw_cm2 or 0.0 for e in estimates)
    return "red" if red >= nir else "nir"


def _check(quantity: str, unit: str, reference: float, reference_u: float,
           values: list[tuple[float, float]]) -> VerifyCheck:
    return VerifyCheck(quantity, unit, reference, reference_u, statistics.fmean(v for v, _ in values),
                       statistics.median(u for _, u in values), len(values))


def read_counts_csv(path: Path, chip: SpectralChip | None = None) -> list[Reading]:
    """The readings of a counts CSV (the ``rig analyze`` format, :mod:`rig.spectrum.counts_csv`; ``chip``'s
    counts when given)."""
    _path, _chip, rows = read_counts_rows(path, "counts CSV", chip)
    return [Reading(r.counts, r.gain_x, r.t_int_ms, r.saturated) for r in rows]
