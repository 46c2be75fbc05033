"""Every ``rig calibrate`` step refits ALL stored raw readings under the current model (order-independent).

The file keeps each reference's raw readings (:class:`~rig.calibration.file.IrradianceReading`,
:class:`~rig.calibration.file.SpectralReadingRecord`); a step adds its readings (or the dark counts) and
calls :func:`refit_all`, which, in this order:

1. puts the stored readings in a canonical order (so any order of steps gives the same fit inputs);
2. refits the gain ratios from every series of one steady source at several gains (the gain series, each
   reference's readings; :mod:`rig.calibration.gains`), with the current dark counts;
3. refits the spectral calibration from all spectral readings (with the current dark counts);
4. re-measures every irradiance reading through the current table (spectral, dark) at scale 1 and refits
   the scale to all of them (plus ``legacy_points``: points an older rig stored without raw readings,
   kept as they were and said so).

Nothing here writes: the caller saves, and the writer refuses values outside their ranges.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from rig.calibration.file import (
    CalibrationFile,
    GainReadingRecord,
    IrradianceReading,
    ReferencePoint,
    SpectralReadingRecord,
)
from rig.calibration.fit import TILT_SPAN_NM, Reading, ScaleFit, fit_scale, fit_scale_tilt, measure_nominal
from rig.calibration.gains import GainFit, fit_gain_factors
from rig.calibration.rules import check
from rig.errors import RigError
from rig.spectrum.model import TILT_ORIGIN_NM

LEGACY_U_REL = 0.03  # a legacy point's reference u (not stored by the older rig: the README's default meter)


@dataclass(frozen=True)
class Refit:
    """What :func:`refit_all` made: the spectral fit and the scale fit (None when there was nothing to fit)."""

    spectral: object | None  # rig.calibration.spectral.SpectralFit
    scale: ScaleFit | None
    notes: list[str]
    gains: GainFit | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def irradiance_records(readings: Sequence[Reading], references: Sequence[tuple[float, float]],
                       reference_u_rel: float) -> list[IrradianceReading]:
    """Raw irradiance readings as stored: (reference mW/cm2, reference nm) per reading, the meter's u."""
    taken = _now()
    out = []
    for reading, (mw, nm) in zip(readings, references, strict=True):
        if reading.saturated:
            raise RigError("calibration: a saturated reading cannot be used (lower the gain or add attenuation)")
        out.append(IrradianceReading([float(c) for c in reading.counts], float(reading.gain_x),
                                     round(float(reading.t_int_ms), 4), float(mw), float(nm),
                                     round(float(reference_u_rel), 6), taken))
    return _checked(out, "irradiance reference readings")


def spectral_records(new: Sequence) -> list[SpectralReadingRecord]:
    """Reference readings (:class:`rig.calibration.spectral.ReferenceReading`) as stored."""
    taken = _now()
    out = []
    for r in new:
        if r.saturated:
            raise RigError(f"spectral calibration: the {r.peak_nm:g} nm reference reading is saturated "
                           "(lower the gain or add attenuation)")
        out.append(SpectralReadingRecord([float(c) for c in r.counts], float(r.gain_x), round(float(r.t_int_ms), 4),
                                         float(r.peak_nm), float(r.peak_u_nm), float(r.fwhm_nm or 0.0),
                                         float(r.irradiance_mw_cm2 or 0.0), taken))
    return _checked(out, "spectral reference readings")


def _checked(records: list, what: str) -> list:
    """New readings within the ranges the file keeps them in (before any fit: the error names the reading)."""
    for index, record in enumerate(records):
        check(record, f"{what} (not stored)", f"reading {index + 1}: ")
    return records


def set_transmission(calibration: CalibrationFile, transmission: float) -> None:
    """One attenuator per file: a step may set it while no reference reading is stored, never change it after."""
    stored = calibration.irradiance_readings or calibration.spectral_readings or calibration.legacy_points \
        or calibration.points
    if stored and not math.isclose(transmission, calibration.transmission, rel_tol=1e-9):
        raise RigError(f"--transmission {transmission:g}: this file's reference readings were taken through an "
                       f"attenuator of transmission {calibration.transmission:g}; use that value (or another --out "
                       "file for another jig)")
    calibration.transmission = transmission


def _irradiance_key(r: IrradianceReading) -> tuple:
    return (r.reference_nm, r.reference_mw_cm2, r.reference_u_rel, r.gain_x, r.t_int_ms, tuple(r.counts))


def _spectral_key(r: SpectralReadingRecord) -> tuple:
    return (r.reference_peak_nm, r.reference_fwhm_nm, r.reference_mw_cm2, r.reference_u_nm, r.gain_x, r.t_int_ms,
            tuple(r.counts))


def _gain_key(r: GainReadingRecord) -> tuple:
    return (r.series, r.gain_x, r.t_int_ms, tuple(r.counts))


def gain_records(readings: Sequence[Reading], series: str) -> list[GainReadingRecord]:
    """Raw readings of one steady source at several gains, as stored (saturated ones are left out)."""
    taken = _now()
    out = [GainReadingRecord([float(c) for c in r.counts], float(r.gain_x), round(float(r.t_int_ms), 4), series, taken)
           for r in readings if not r.saturated]
    return _checked(out, "gain series readings")


def _refit_gains(calibration: CalibrationFile) -> GainFit | None:
    """The gain factors from every series: the stored gain series and each reference's readings (a series each)."""
    series: dict[tuple, list[Reading]] = {}
    for r in calibration.gain_readings:
        series.setdefault(("gains", r.series), []).append(Reading(tuple(r.counts), r.gain_x, r.t_int_ms))
    for r in calibration.irradiance_readings:
        series.setdefault(("irradiance", r.reference_nm, r.reference_mw_cm2, r.reference_u_rel), []).append(
            Reading(tuple(r.counts), r.gain_x, r.t_int_ms))
    for s in calibration.spectral_readings:
        series.setdefault(("spectral", *_spectral_key(s)[:4]), []).append(Reading(tuple(s.counts), s.gain_x,
                                                                                  s.t_int_ms))
    fit = fit_gain_factors([series[key] for key in sorted(series, key=str)], calibration.spectral_chip,
                           calibration.dark_counts or None)
    if not fit.any_measured:
        calibration.gain_factors, calibration.gain_factors_u_rel = [], []
        return None
    calibration.gain_factors = [round(f, 6) for f in fit.factors]
    calibration.gain_factors_u_rel = [round(u, 6) for u in fit.u_rel]
    return fit


def keep_legacy_points(calibration: CalibrationFile) -> None:
    """A file from an older rig has derived points and no raw readings: keep them as ``legacy_points`` (before a
    step adds raw readings)."""
    if calibration.points and not calibration.irradiance_readings and not calibration.legacy_points:
        calibration.legacy_points = calibration.points


def refit_all(calibration: CalibrationFile) -> Refit:
    """Refit the spectral calibration and the irradiance scale from every stored reading (see the module)."""
    notes = []
    keep_legacy_points(calibration)
    if calibration.legacy_points:
        notes.append(f"{len(calibration.legacy_points)} irradiance point(s) were stored by an older rig without "
                     "their raw readings: kept as measured then, not refitted; for an order-independent file "
                     "calibrate irradiance again into a new --out file")
    calibration.irradiance_readings = sorted(calibration.irradiance_readings, key=_irradiance_key)
    calibration.spectral_readings = sorted(calibration.spectral_readings, key=_spectral_key)
    calibration.gain_readings = sorted(calibration.gain_readings, key=_gain_key)
    gains = _refit_gains(calibration)
    spectral = _refit_spectral(calibration) if calibration.spectral_readings else None
    scale = _refit_scale(calibration) if calibration.irradiance_readings or calibration.legacy_points else None
    return Refit(spectral, scale, notes, gains)


def _refit_spectral(calibration: CalibrationFile):
    """The spectral fit of all stored readings (rig.calibration.spectral.add_references stores its results)."""
    from rig.calibration.spectral import ReferenceReading, add_references

    records = calibration.spectral_readings
    readings = [ReferenceReading(tuple(r.counts), r.gain_x, r.t_int_ms, r.reference_peak_nm,
                                 r.reference_fwhm_nm or None, r.reference_u_nm, r.reference_mw_cm2 or None)
                for r in records]
    calibration.spectral_readings = []  # all readings are given as new: the records (with dates) are put back
    try:
        return add_references(calibration, readings, calibration.transmission)
    finally:
        calibration.spectral_readings = records


def _measured(calibration: CalibrationFile, records: list[IrradianceReading]) -> list[float]:
    """Each irradiance reading measured at scale 1 through the file's current table (spectral, gains, tilt)."""
    if not records:
        return []
    base = calibration.calibration() if calibration.has_spectral or calibration.gain_factors \
        or calibration.scale_tilt_per_100nm else None
    return measure_nominal([Reading(tuple(r.counts), r.gain_x, r.t_int_ms) for r in records],
                           [r.reference_nm for r in records], calibration.transmission,
                           calibration.dark_counts or None, base=base, chip=calibration.spectral_chip)


TILT_ITERATIONS = 3


def _refit_scale(calibration: CalibrationFile) -> ScaleFit:
    """Every irradiance reading measured through the current table at scale 1; the scale fitted to all (and its slope
    with wavelength when the readings span ``TILT_SPAN_NM``: the table tilted by it, re-measured, a few times)."""
    records = calibration.irradiance_readings
    legacy = calibration.legacy_points
    peaks = [r.reference_nm for r in records]
    calibration.scale_tilt_per_100nm = calibration.scale_tilt_u_per_100nm = 0.0
    tilt = bool(records) and not legacy and max(peaks) - min(peaks) >= TILT_SPAN_NM
    references = [r.reference_mw_cm2 for r in records] + [p.reference_mw_cm2 for p in legacy]
    u_rel = [r.reference_u_rel for r in records] + [LEGACY_U_REL] * len(legacy)
    for _ in range(TILT_ITERATIONS if tilt else 1):
        measured = _measured(calibration, records)
        if not tilt:
            sources = [(r.reference_nm, r.reference_mw_cm2) for r in records] + [
                (p.reference_nm, p.reference_mw_cm2) for p in legacy]
            fit = fit_scale(references, measured + [p.measured_mw_cm2 for p in legacy],
                            math.sqrt(sum(u * u for u in u_rel) / len(u_rel)), sources)  # one meter: no averaging
            break
        fit, slope, u_slope = fit_scale_tilt(references, measured, u_rel, peaks, TILT_ORIGIN_NM)
        # the reference is above the measurement where the part responds less than the table: the table tilts down
        calibration.scale_tilt_per_100nm = round((1 + calibration.scale_tilt_per_100nm) / (1 + slope) - 1, 6)
        calibration.scale_tilt_u_per_100nm = round(max(u_slope, 1e-6), 6)
    if tilt:  # the last re-measure (through the final tilt) gives the stored points and residuals
        measured = _measured(calibration, records)
        fit = fit_scale_tilt(references, measured, u_rel, peaks, TILT_ORIGIN_NM)[0]
    residuals = [round(r, 5) for r in fit.residuals_rel]
    calibration.points = [ReferencePoint(r.reference_mw_cm2, r.reference_nm, round(m, 6), res)
                          for r, m, res in zip(records, measured, residuals, strict=False)]
    for point, residual in zip(legacy, residuals[len(records):], strict=True):
        point.residual_rel = residual
    calibration.scale, calibration.scale_u_rel = round(fit.scale, 6), round(fit.scale_u_rel, 6)
    calibration.residuals_rel = residuals
    wavelengths = sorted({round(nm) for nm in [r.reference_nm for r in records] + [p.reference_nm for p in legacy]})
    meters = sorted({round(100 * u, 3) for u in u_rel})
    calibration.method = (f"reference meter, {len(references)} readings at {', '.join(map(str, wavelengths))} nm"
                          f"{f' ({len(legacy)} legacy points)' if legacy else ''}; scale fitted by least squares "
                          f"on relative error{' through the spectral calibration' if calibration.has_spectral else ''}"
                          f"{' and the measured gain ratios' if calibration.gain_factors else ''}"
                          f"{', with its slope with wavelength' if tilt else ''}; reference u "
                          f"{', '.join(f'{m:g}' for m in meters)} %")
    return fit
