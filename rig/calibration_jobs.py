"""The work behind ``rig calibrate``: which file to write, reading reference CSVs, fitting and storing.

:mod:`rig.calibration_fit` holds the fits (numpy); :mod:`rig.calibration_file` reads and
writes calibration files; this module strings them together for each kind of
calibration, with every input checked first (clear error, nothing written).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rig.calibration_file import CalibrationFile, ReferencePoint, load_calibration, new_id, save_calibration, to_toml
from rig.calibration_fit import Reading, ScaleFit, fit_scale, fit_thermistor, mean_dark, measure_nominal, take_readings
from rig.errors import RigError


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


def calibration_target(out: str | None, sensor_id: str, jig: str, transmission: float
                       ) -> tuple[Path, CalibrationFile]:
    """The calibration file to create or add to (``out``), loaded if it exists, with a new id and date."""
    path = Path(out) if out else Path("calibration") / f"{sensor_id}-{_stamp()}.toml"
    calibration = load_calibration(path) if path.exists() else CalibrationFile(
        sensor_id=sensor_id, jig=jig, transmission=transmission)
    calibration.id = new_id(calibration.sensor_id)
    calibration.created = datetime.now(UTC).isoformat(timespec="seconds")
    return path, calibration


def calibrate_dark(bench, calibration: CalibrationFile, count: int) -> list[float]:
    """Dark counts per channel, wrap off (auto-range must be off in the bench config)."""
    bench.switch.off()
    dark = mean_dark(take_readings(bench, count))
    reading = bench.read_spectrum()
    calibration.dark_counts = [round(d, 3) for d in dark]
    calibration.dark_gain_x, calibration.dark_t_int_ms = reading.gain_x, round(reading.t_int_ms, 3)
    return dark


def _finite(text: str, path: Path, line: int, column: str, positive: bool = False) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise RigError(f"{path}: line {line}, column '{column}': expected a number (got {text!r})") from None
    if not math.isfinite(value) or (positive and value <= 0):
        raise RigError(f"{path}: line {line}, column '{column}': expected a finite number"
                       f"{' > 0' if positive else ''} (got {text!r})")
    return value


def _csv_rows(path: Path) -> tuple[Path, list[dict[str, str]]]:
    """A user-named CSV file's rows as dicts (a regular file only: no FIFO or device); errors name the file."""
    from rig.input_files import regular_file

    path = regular_file(path, "CSV file")
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return path, list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise RigError(f"{path}: cannot read as a CSV file ({error})") from error


def read_reference_counts(path: Path, default_mw_cm2: float | None, default_nm: float | None
                          ) -> tuple[list[Reading], list[tuple[float, float]]]:
    """Readings of a counts CSV with the reference irradiance and wavelength of each (columns or defaults).

    The counts are checked by the one counts-CSV reader (:mod:`rig.counts_csv`); the references must be
    physical: 0 < mW/cm2 <= 1000 (ten times the sun: no LED wrap comes near), 300..1100 nm (the sensor's range)."""
    from rig.counts_csv import REFERENCE_MW_CM2, REFERENCE_NM, read_counts_rows

    path, rows = read_counts_rows(path)
    readings, references = [], []
    for row in rows:
        readings.append(Reading(row.counts, row.gain_x, row.t_int_ms, row.saturated))
        mw = row.cells.get("reference_mw_cm2") or default_mw_cm2
        nm = row.cells.get("reference_nm") or default_nm
        if mw is None or nm is None:
            raise RigError(f"{path}: line {row.line}: no reference irradiance/wavelength (columns reference_mw_cm2, "
                           "reference_nm, or --reference-mw-cm2 / --reference-nm)")
        mw_cm2 = _finite(str(mw), path, row.line, "reference_mw_cm2", positive=True)
        peak_nm = _finite(str(nm), path, row.line, "reference_nm", positive=True)
        for column, value, (low, high), unit in (("reference_mw_cm2", mw_cm2, REFERENCE_MW_CM2, "mW/cm2"),
                                                  ("reference_nm", peak_nm, REFERENCE_NM, "nm")):
            if not low <= value <= high:  # (> 0 checked above)
                raise RigError(f"{path}: line {row.line}, column '{column}': expected a reference in "
                               f"{low:g}..{high:g} {unit} (got {value:g})")
        references.append((mw_cm2, peak_nm))
    return readings, references


def add_irradiance_points(calibration: CalibrationFile, readings: list[Reading],
                          references: list[tuple[float, float]], transmission: float,
                          reference_u_pct: float) -> ScaleFit:
    """Measure each reading at the nominal scale, add the points to the file's, and refit the scale."""
    dark = calibration.dark_counts or None
    spectral = calibration.calibration() if calibration.has_spectral else None  # the sensor's own table, if fitted
    measured = measure_nominal(readings, [n for _, n in references], transmission, dark, base=spectral)
    points = calibration.points + [ReferencePoint(r, n, m) for (r, n), m in zip(references, measured, strict=True)]
    fit = fit_scale([p.reference_mw_cm2 for p in points], [p.measured_mw_cm2 for p in points],
                    reference_u_pct / 100.0)
    for point, residual in zip(points, fit.residuals_rel, strict=True):
        point.residual_rel = round(residual, 5)
    calibration.points = points
    calibration.transmission = transmission
    calibration.scale, calibration.scale_u_rel = round(fit.scale, 6), round(fit.scale_u_rel, 6)
    calibration.residuals_rel = [p.residual_rel for p in points]
    wavelengths = sorted({round(p.reference_nm) for p in points})
    calibration.method = (f"reference meter, {len(points)} readings at {', '.join(map(str, wavelengths))} nm; "
                          f"scale fitted by least squares on relative error; reference u {reference_u_pct} %")
    return fit


def live_readings(bench, count: int, switch_on: bool, settle_s: float) -> list[Reading]:
    """``count`` readings of the reference source on the jig (powered through the wrap switch if asked, under
    the run's guards: interlock while on, light checked after switch-off)."""
    from rig.run.guard import WrapGuard

    guard = WrapGuard(bench)
    if switch_on:
        guard.on()
        guard.sleep(settle_s)
    readings = []
    for _ in range(count):
        reading = bench.read_spectrum()
        guard.note_reading(reading)
        readings.append(Reading(tuple(reading.counts), reading.gain_x, reading.t_int_ms, reading.saturated))
    guard.off()
    return readings


def as_spectral_references(readings: list[Reading], peak_nm: float, fwhm_nm: float | None, u_nm: float,
                           mw_cm2: float | None) -> list:
    """Readings of a source of known peak, as spectral-calibration references."""
    from rig.spectral_calibration import ReferenceReading

    return [ReferenceReading(r.counts, r.gain_x, r.t_int_ms, peak_nm, fwhm_nm, u_nm, mw_cm2, r.saturated)
            for r in readings]


def save(calibration: CalibrationFile, path: Path) -> Path:
    try:
        return save_calibration(calibration, path)
    except OSError as error:
        raise RigError(f"cannot write the calibration file {path}: {error.strerror or error}") from error


# --- thermistors ----------------------------------------------------------------------------------------------------
def thermistor_points(point_texts: list[str], points_csv: str | None, probe: str) -> list[tuple[float, float]]:
    """(reference C, resistance ohm) pairs from ``--point C:OHM`` texts and a CSV; each checked."""
    points = []
    for text in point_texts:
        try:
            temp, ohm = (float(part) for part in text.split(":"))
        except ValueError:
            raise RigError(f"--point {text!r}: expected REFERENCE_C:RESISTANCE_OHM, e.g. 0.0:32650") from None
        points.append(_checked_point(temp, ohm, f"--point {text!r}"))
    if points_csv:
        path, rows = _csv_rows(Path(points_csv))
        if not rows:
            raise RigError(f"{path}: no points; expected a header reference_c, resistance_ohm [, probe] and a row "
                           "per point")
        for column in ("reference_c", "resistance_ohm"):
            if column not in rows[0]:
                raise RigError(f"{path}: missing column '{column}'; expected reference_c, resistance_ohm [, probe]")
        for line, row in enumerate(rows, start=2):
            if row.get("probe") not in (None, "", probe):
                continue
            temp = _finite(row["reference_c"], path, line, "reference_c")
            ohm = _finite(row["resistance_ohm"], path, line, "resistance_ohm", positive=True)
            points.append(_checked_point(temp, ohm, f"{path}: line {line}"))
    return points


def _checked_point(temp_c: float, ohm: float, where: str) -> tuple[float, float]:
    if not (math.isfinite(temp_c) and -60.0 <= temp_c <= 200.0):
        raise RigError(f"{where}: reference temperature must be a finite number in -60..200 C (got {temp_c})")
    if not (math.isfinite(ohm) and ohm > 0):
        raise RigError(f"{where}: resistance must be a finite number > 0 ohm (got {ohm})")
    return temp_c, ohm


@dataclass(frozen=True)
class ThermistorResult:
    path: Path
    model: str
    coefficients: dict[str, float]
    residuals_c: list[float]


def calibrate_thermistor(probe: str, points: list[tuple[float, float]], model: str, out: str | None
                         ) -> ThermistorResult:
    """Fit and write ``calibration/thermistor-<probe>-<date>.toml`` (or ``out``)."""
    fit = fit_thermistor([p[0] for p in points], [p[1] for p in points], model)
    if not all(math.isfinite(v) for v in fit.coefficients.values()):
        raise RigError("thermistor calibration: the fit gave non-finite coefficients; check the points")
    from rig.results import write_text_atomic

    path = Path(out) if out else Path("calibration") / f"thermistor-{probe}-{_stamp()}.toml"
    record = {"probe": probe, "created": datetime.now(UTC).isoformat(timespec="seconds"), "model": fit.model,
              **fit.coefficients, "reference_c": [p[0] for p in points], "resistance_ohm": [p[1] for p in points],
              "residuals_c": [round(r, 4) for r in fit.residuals_c]}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, to_toml(record))
    except OSError as error:
        raise RigError(f"cannot write {path}: {error.strerror or error}") from error
    return ThermistorResult(path, fit.model, fit.coefficients, fit.residuals_c)
