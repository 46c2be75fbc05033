"""The work behind ``rig calibrate``: which file to write, reading reference CSVs, fitting and storing.

:mod:`rig.calibration.fit` holds the fits (numpy); :mod:`rig.calibration.file` reads and
writes calibration files; this module strings them together for each kind of
calibration, with every input checked first (clear error, nothing written).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rig.calibration.file import CalibrationFile, load_calibration, new_id, now_iso, save_calibration
from rig.calibration.fit import Reading, fit_thermistor, mean_dark, take_readings
from rig.calibration.refit import (
    Refit,
    irradiance_records,
    keep_legacy_points,
    refit_all,
    set_transmission,
    spectral_records,
)
from rig.chips import SpectralChip
from rig.errors import RigError


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


def calibration_target(out: str | None, sensor_id: str, jig: str, transmission: float,
                       chip: SpectralChip | None = None) -> tuple[Path, CalibrationFile, list[str]]:
    """The calibration file to create or add to (``out``), loaded (and checked: a stored value out of range is
    refused, naming it; one made for another chip than ``chip`` too) if it exists, with a new id and date; and
    warnings about it (dates in the future)."""
    path = Path(out) if out else Path("calibration") / f"{sensor_id}-{_stamp()}.toml"
    calibration = load_calibration(path) if path.exists() else CalibrationFile(
        sensor_id=sensor_id, jig=jig, transmission=transmission)
    if chip is not None:
        if path.exists():
            calibration.check_chip(chip)
        calibration.chip = chip.name
    warnings = calibration.date_warnings() if path.exists() else []
    calibration.id = new_id(calibration.sensor_id)
    calibration.created = now_iso()
    return path, calibration, warnings


def calibrate_dark(bench, calibration: CalibrationFile, count: int) -> tuple[list[float], Refit]:
    """Dark counts per channel of the bench's chip, wrap off (auto-range must be off in the bench config); every
    stored reading refitted with them. A file made for another chip is refused (naming both)."""
    calibration.check_chip(bench.chip)
    bench.switch.off()
    dark = mean_dark(take_readings(bench, count))
    reading = bench.read_spectrum()
    return dark, set_dark(calibration, dark, reading.gain_x, reading.t_int_ms)


def set_dark(calibration: CalibrationFile, dark: list[float], gain_x: float, t_int_ms: float) -> Refit:
    """Store dark counts (at these settings) and refit every stored reading with them."""
    calibration.dark_counts = [round(d, 3) for d in dark]
    calibration.dark_gain_x, calibration.dark_t_int_ms = float(gain_x), round(float(t_int_ms), 3)
    calibration.dark_created = now_iso()
    return refit_all(calibration)


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


def read_reference_counts(path: Path, default_mw_cm2: float | None, default_nm: float | None,
                          chip: SpectralChip | None = None) -> tuple[list[Reading], list[tuple[float, float]]]:
    """Readings of a counts CSV with the reference irradiance and wavelength of each (columns or defaults).

    The counts are checked by the one counts-CSV reader (:mod:`rig.spectrum.counts_csv`; they must be ``chip``'s
    when given); the references must be physical: 0 < mW/cm2 <= 1000 (ten times the sun: no LED wrap comes near),
    300..1100 nm (the sensor's range)."""
    from rig.spectrum.counts_csv import REFERENCE_MW_CM2, REFERENCE_NM, read_counts_rows

    path, _chip, rows = read_counts_rows(path, expected=chip)
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
                          reference_u_pct: float) -> Refit:
    """Store the raw readings (with their references and the meter's u) and refit everything."""
    set_transmission(calibration, transmission)
    keep_legacy_points(calibration)
    calibration.irradiance_readings += irradiance_records(readings, references, reference_u_pct / 100.0)
    return refit_all(calibration)


def add_spectral_references(calibration: CalibrationFile, new: list, transmission: float) -> Refit:
    """Store the raw reference readings (:class:`rig.calibration.spectral.ReferenceReading`) and refit
    everything (the spectral fit, then the irradiance scale through it)."""
    set_transmission(calibration, transmission)
    calibration.spectral_readings += spectral_records(new)
    return refit_all(calibration)


def live_readings(bench, count: int, switch_on: bool, settle_s: float) -> list[Reading]:
    """``count`` readings of the reference source on the jig (powered through the wrap switch if asked, under
    the run's guards: interlock while on, light checked after switch-off)."""
    from rig.run.guard import with_wrap_on

    def read(guard) -> list[Reading]:
        if switch_on:
            guard.sleep(settle_s)
        readings = []
        for _ in range(count):
            reading = bench.read_spectrum()
            guard.note_reading(reading)
            readings.append(Reading(tuple(reading.counts), reading.gain_x, reading.t_int_ms, reading.saturated))
        return readings

    return with_wrap_on(bench, read, switch_on=switch_on)


def live_gain_series(bench, count: int, switch_on: bool, settle_s: float) -> list[Reading]:
    """The steady source on the jig read ``count`` times at every gain where it is in range
    (:func:`rig.calibration.gains.sweep`), under the run's guards."""
    from rig.calibration.gains import sweep
    from rig.run.guard import with_wrap_on

    def read(guard) -> list[Reading]:
        if switch_on:
            guard.sleep(settle_s)
        return sweep(bench.spectral, count, on_reading=guard.note_reading)

    return with_wrap_on(bench, read, switch_on=switch_on)


def gain_series_csv(path: Path, series: str, chip: SpectralChip | None = None) -> dict[str, list[Reading]]:
    """Readings of a counts CSV as gain series: by its ``series`` column, else all under ``series``."""
    from rig.spectrum.counts_csv import read_counts_rows

    _path, _chip, rows = read_counts_rows(path, expected=chip)
    out: dict[str, list[Reading]] = {}
    for row in rows:
        label = str(row.cells.get("series") or series).strip() or series
        out.setdefault(label, []).append(Reading(row.counts, row.gain_x, row.t_int_ms, row.saturated))
    return out


def add_gain_series(calibration: CalibrationFile, series: dict[str, list[Reading]]) -> Refit:
    """Store gain series (label -> readings) and refit everything (gain ratios first)."""
    from rig.calibration.refit import gain_records

    taken = {r.series for r in calibration.gain_readings}
    for label, readings in series.items():
        if label in taken:
            raise RigError(f"gain series {label!r} is already in this file: give the new one another --series")
        calibration.gain_readings += gain_records(readings, label)
    return refit_all(calibration)


def as_spectral_references(readings: list[Reading], peak_nm: float, fwhm_nm: float | None, u_nm: float,
                           mw_cm2: float | None) -> list:
    """Readings of a source of known peak, as spectral-calibration references."""
    from rig.calibration.spectral import ReferenceReading

    return [ReferenceReading(r.counts, r.gain_x, r.t_int_ms, peak_nm, fwhm_nm, u_nm, mw_cm2, r.saturated)
            for r in readings]


def save(calibration: CalibrationFile, path: Path) -> Path:
    try:
        return save_calibration(calibration, path)
    except OSError as error:
        raise RigError(f"cannot write the calibration file {path}: {error.strerror or error}") from error


# --- thermistors ----------------------------------------------------------------------------------------------------
def thermistor_points(point_texts: list[str], points_csv: str | None, probe: str) -> list[tuple[float, float]]:
    """(reference C, resistance ohm) pairs from ``--point C:OHM`` texts and a CSV; each checked, and together
    they must be an NTC's (resistance falling as temperature rises: the point that breaks it is named)."""
    points, labels = [], []
    for text in point_texts:
        try:
            temp, ohm = (float(part) for part in text.split(":"))
        except ValueError:
            raise RigError(f"--point {text!r}: expected REFERENCE_C:RESISTANCE_OHM, e.g. 0.0:32650") from None
        points.append(_checked_point(temp, ohm, f"--point {text!r}"))
        labels.append(f"--point {text!r}")
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
            labels.append(f"{path}: line {line}")
    _check_ntc_points(points, labels)
    return points


def _check_ntc_points(points: list[tuple[float, float]], labels: list[str]) -> None:
    from rig.calibration.thermistor_file import falling_problem

    temps = [t for t, _ in points]
    for i, t in enumerate(temps):
        if temps.index(t) != i:
            raise RigError(f"{labels[i]}: the same reference temperature as {labels[temps.index(t)]}: each point needs "
                           "its own temperature")
    bad = falling_problem(temps, [r for _, r in points])
    if bad is not None:
        colder = max((i for i in range(len(points)) if temps[i] < temps[bad]), key=lambda i: temps[i])
        raise RigError(f"{labels[bad]}: {points[bad][1]:g} ohm at {temps[bad]:g} C is not below {points[colder][1]:g} "
                       f"ohm at {temps[colder]:g} C ({labels[colder]}): an NTC's resistance falls as temperature "
                       "rises (points swapped, or the wrong probe?); nothing written")


def _checked_point(temp_c: float, ohm: float, where: str) -> tuple[float, float]:
    if not (math.isfinite(temp_c) and -60.0 <= temp_c <= 200.0):
        raise RigError(f"{where}: reference temperature must be a finite number in -60..200 C (got {temp_c})")
    if not (math.isfinite(ohm) and 0 < ohm <= 1e8):
        raise RigError(f"{where}: resistance must be a finite number in (0, 1e8] ohm (got {ohm})")
    return temp_c, ohm


@dataclass(frozen=True)
class ThermistorResult:
    path: Path
    model: str
    coefficients: dict[str, float]
    residuals_c: list[float]


def calibrate_thermistor(probe: str, points: list[tuple[float, float]], model: str, out: str | None
                         ) -> ThermistorResult:
    """Fit and write ``calibration/thermistor-<probe>-<date>.toml`` (or ``out``); a fit that is not an NTC curve
    over -20..120 C is refused (nothing written)."""
    from rig.calibration.thermistor_file import ThermistorFile, save_thermistor_file
    from rig.hardware.ntc import curve_problem

    fit = fit_thermistor([p[0] for p in points], [p[1] for p in points], model)
    problem = curve_problem(fit.model, fit.coefficients)
    if problem is not None:
        raise RigError(f"thermistor calibration: the {fit.model} fit of these points is not an NTC curve over "
                       f"-20..120 C ({problem}); check the points; nothing written")
    path = Path(out) if out else Path("calibration") / f"thermistor-{probe}-{_stamp()}.toml"
    record = ThermistorFile(probe=probe, created=now_iso(), model=fit.model, **fit.coefficients,
                            reference_c=[p[0] for p in points], resistance_ohm=[p[1] for p in points],
                            residuals_c=[round(r, 4) for r in fit.residuals_c])
    save_thermistor_file(record, path)
    return ThermistorResult(path, fit.model, fit.coefficients, fit.residuals_c)
