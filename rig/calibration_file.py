"""Calibration files: how this sensor + jig turns counts into irradiance, with provenance.

A calibration file (TOML, written by ``rig calibrate``; see the README) holds an
``id``, the date, the sensor it was made for, the jig, the method, the fitted
``scale`` (multiplying the datasheet-nominal irradiance) with its uncertainty
and the fit's residuals, the reference points, optionally the dark counts, and
optionally a spectral calibration (``spectral_*``: per-channel gains and filter
shifts, their model uncertainty, peak floors and the reference sources; see
:mod:`rig.spectral_calibration`).
Without one, rig uses the datasheet-nominal calibration and marks irradiance
"uncalibrated".
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rig.config import load_validated
from rig.derive import nominal_calibration
from rig.errors import ConfigError, RigError
from rig.responsivity import CHANNELS, Responsivity, corrected
from rig.spectrum import Calibration, ModelUncertainty


@dataclass
class ReferencePoint:
    """One reference measurement: what the trusted meter said, and what rig measured (nominal scale)."""

    reference_mw_cm2: float = 0.0
    reference_nm: float = 0.0
    measured_mw_cm2: float = 0.0
    residual_rel: float = 0.0


@dataclass
class SpectralReference:
    """One reference source of a spectral calibration: what was stated, and what the fit made of it."""

    reference_peak_nm: float = 0.0
    reference_u_nm: float = 0.0
    reference_fwhm_nm: float = 0.0  # 0 = not stated
    reference_mw_cm2: float = 0.0  # 0 = not stated
    readings: int = 0
    fitted_peak_nm: float = 0.0
    residual_rel: float = 0.0


@dataclass
class SpectralReadingRecord:
    """One stored reading of a reference source (kept so that adding a reference refits them all)."""

    counts: list[float] = field(default_factory=list)
    gain_x: float = 0.0
    t_int_ms: float = 0.0
    reference_peak_nm: float = 0.0
    reference_u_nm: float = 1.0
    reference_fwhm_nm: float = 0.0  # 0 = not stated
    reference_mw_cm2: float = 0.0  # 0 = not stated


@dataclass
class CalibrationFile:
    """The contents of a calibration TOML file."""

    id: str = ""
    created: str = ""
    sensor_id: str = ""
    jig: str = ""
    method: str = ""
    transmission: float = 0.01
    scale: float = 1.0
    scale_u_rel: float = 0.05
    residuals_rel: list[float] = field(default_factory=list)
    points: list[ReferencePoint] = field(default_factory=list)
    dark_counts: list[float] = field(default_factory=list)
    dark_gain_x: float = 0.0
    dark_t_int_ms: float = 0.0
    spectral_created: str = ""
    spectral_method: str = ""
    spectral_gains: list[float] = field(default_factory=list)
    spectral_shifts_nm: list[float] = field(default_factory=list)
    spectral_u_rel: list[float] = field(default_factory=list)
    spectral_u_shift_nm: list[float] = field(default_factory=list)
    spectral_u_oob: list[float] = field(default_factory=list)
    spectral_oob_factors: list[float] = field(default_factory=list)  # out-of-band level x the table's (empty: 1)
    spectral_u_oob_rel: list[float] = field(default_factory=list)  # its relative u (empty: uncalibrated default)
    spectral_u_rel_shift_corr: list[float] = field(default_factory=list)  # gain/shift error correlation (empty: 0)
    spectral_u_tilt_per_100nm: list[float] = field(default_factory=list)  # response tilt u from 660 nm (empty: 0)
    spectral_peak_floor_nm: list[float] = field(default_factory=list)  # k=2, [red, nir]
    spectral_references: list[SpectralReference] = field(default_factory=list)
    spectral_readings: list[SpectralReadingRecord] = field(default_factory=list)
    source: str = ""

    def validate(self) -> CalibrationFile:
        if not self.id:
            raise ConfigError(self.source, "id", "a calibration id (non-empty string)")
        if not 0 < self.transmission <= 1:
            raise ConfigError(self.source, "transmission", "a fraction in (0, 1]", self.transmission)
        if not 0.01 < self.scale < 100:
            raise ConfigError(self.source, "scale", "a factor in (0.01, 100)", self.scale)
        if not 0 <= self.scale_u_rel < 1:
            raise ConfigError(self.source, "scale_u_rel", "a fraction in [0, 1)", self.scale_u_rel)
        if self.dark_counts and len(self.dark_counts) != 10:
            raise ConfigError(self.source, "dark_counts", "10 values (F1..F8, Clear, NIR)", len(self.dark_counts))
        if self.spectral_gains:
            for key in ("spectral_gains", "spectral_shifts_nm", "spectral_u_rel", "spectral_u_shift_nm",
                        "spectral_u_oob"):
                if len(getattr(self, key)) != len(CHANNELS):
                    raise ConfigError(self.source, key, "10 values (F1..F8, Clear, NIR)", len(getattr(self, key)))
            for key in ("spectral_oob_factors", "spectral_u_oob_rel", "spectral_u_rel_shift_corr",
                        "spectral_u_tilt_per_100nm"):
                if getattr(self, key) and len(getattr(self, key)) != len(CHANNELS):
                    raise ConfigError(self.source, key, "10 values (F1..F8, Clear, NIR)", len(getattr(self, key)))
            if not all(-1 <= r <= 1 for r in self.spectral_u_rel_shift_corr):
                raise ConfigError(self.source, "spectral_u_rel_shift_corr", "correlations in [-1, 1]",
                                  self.spectral_u_rel_shift_corr)
            if not all(0.01 <= o <= 30 for o in self.spectral_oob_factors):
                raise ConfigError(self.source, "spectral_oob_factors", "factors in [0.01, 30]",
                                  self.spectral_oob_factors)
            if not all(0.2 < g < 5 for g in self.spectral_gains):
                raise ConfigError(self.source, "spectral_gains", "factors in (0.2, 5)", self.spectral_gains)
            if not all(abs(d) <= 30 for d in self.spectral_shifts_nm):
                raise ConfigError(self.source, "spectral_shifts_nm", "shifts within +/-30 nm", self.spectral_shifts_nm)
            if len(self.spectral_peak_floor_nm) != 2:
                raise ConfigError(self.source, "spectral_peak_floor_nm", "2 values (red, nir)",
                                  self.spectral_peak_floor_nm)
        return self

    @property
    def has_spectral(self) -> bool:
        return bool(self.spectral_gains)

    def calibration(self) -> Calibration:
        dark = tuple(self.dark_counts) if self.dark_counts else (0.0,) * 10
        base = Calibration(Responsivity.load(), transmission=self.transmission, scale=self.scale,
                           scale_u_rel=self.scale_u_rel, dark_counts=dark, id=self.id, calibrated=True)
        if not self.has_spectral:
            return base
        return replace(base, responsivity=corrected(base.responsivity, tuple(self.spectral_gains),
                                                    tuple(self.spectral_shifts_nm),
                                                    tuple(self.spectral_oob_factors) or None),
                       model_u=ModelUncertainty(tuple(self.spectral_u_rel), tuple(self.spectral_u_shift_nm),
                                                tuple(self.spectral_u_oob),
                                                tuple(self.spectral_u_oob_rel) or ModelUncertainty().oob_rel,
                                                tuple(self.spectral_u_rel_shift_corr) or (0.0,) * 10,
                                                tuple(self.spectral_u_tilt_per_100nm) or (0.0,) * 10),
                       peak_floor_nm=(("red", self.spectral_peak_floor_nm[0]), ("nir", self.spectral_peak_floor_nm[1])),
                       spectral_calibrated=True)

    def age_days(self, now: datetime | None = None) -> float | None:
        try:
            created = datetime.fromisoformat(self.created)
        except ValueError:
            return None
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        return ((now or datetime.now(UTC)) - created).total_seconds() / 86400.0


def new_id(sensor_id: str, when: datetime | None = None) -> str:
    return f"{sensor_id}-{(when or datetime.now(UTC)).strftime('%Y%m%d-%H%M%S')}"


def load_calibration(path: str | Path) -> CalibrationFile:
    """Read and check a calibration file."""
    return load_validated(CalibrationFile, path)


def save_calibration(calibration: CalibrationFile, path: str | Path) -> Path:
    """Write a calibration file (TOML) and return its path."""
    from rig.results import write_text_atomic

    path = Path(path)
    data = asdict(calibration)
    data.pop("source")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, to_toml(data))  # the points gathered so far are never left half-written
    except OSError as error:
        raise RigError(f"cannot write {path}: {error.strerror or error}") from None
    return path


def to_toml(data: dict[str, Any]) -> str:
    """A small TOML writer for flat tables, lists of scalars and arrays of flat tables."""
    lines, tables = [], []
    for key, value in data.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            tables.append((key, value))
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    for key, rows in tables:
        for row in rows:
            lines.append(f"\n[[{key}]]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in row.items())
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(float(value)) if isinstance(value, float) and math.isfinite(value) else str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def select_calibration(path: str | None, sensor_id: str, transmission: float, max_age_days: float,
                       force: bool = False) -> tuple[Calibration, list[str]]:
    """The active calibration for this sensor, with warnings; refuses another sensor's unless forced."""
    if not path:
        return nominal_calibration(transmission), [
            "no calibration file: irradiance uses the datasheet-nominal scale and is marked 'uncalibrated'"]
    loaded = load_calibration(path)
    warnings = []
    if loaded.sensor_id != sensor_id:
        message = (f"{path}: calibration {loaded.id!r} was made for sensor {loaded.sensor_id!r}, "
                   f"this bench has {sensor_id!r}")
        if not force:
            raise RigError(message + " (use --force-calibration to use it anyway)")
        warnings.append(message + " (forced)")
    age = loaded.age_days()
    if age is not None and age > max_age_days:
        warnings.append(f"calibration {loaded.id!r} is {age:.0f} days old (limit {max_age_days:.0f}): recalibrate")
    return loaded.calibration(), warnings


def calibration_or_nominal(path: str | Path | None, transmission: float) -> Calibration:
    """The calibration from ``path``, or the datasheet-nominal one at ``transmission``."""
    if path is None:
        return nominal_calibration(transmission)
    return load_calibration(path).calibration()


def spectral_calibration(base: Calibration, fit) -> Calibration:
    """``base`` with a spectral fit (:class:`rig.spectral_calibration.SpectralFit`) applied."""
    return replace(base, responsivity=corrected(base.responsivity, tuple(fit.gains), tuple(fit.shifts_nm),
                                                tuple(fit.oob_factors)),
                   model_u=fit.model_u, peak_floor_nm=tuple(fit.peak_floor_nm.items()), spectral_calibrated=True)
