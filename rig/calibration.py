"""Calibration files: how this sensor + jig turns counts into irradiance, with provenance.

A calibration file is TOML::

    id = "as7341-bench1-2026-11-24"
    created = "2026-11-24T10:00:00Z"
    sensor_id = "AS7341 @ I2C bus 1 0x39 (real)"
    jig = "ND 2.0 + PTFE diffuser, 3 mm aperture"
    method = "reference meter at 660 nm, 3 levels"
    transmission = 0.01        # attenuator transmission the scale was made with
    scale = 1.04               # multiplies the datasheet-nominal irradiance
    scale_u_rel = 0.02         # standard relative uncertainty of the scale
    residuals_rel = [0.01, -0.004, 0.006]

Without one, rig uses the datasheet-nominal calibration and marks irradiance "uncalibrated".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rig.analysis import nominal_calibration
from rig.config import build_dataclass, load_toml
from rig.errors import ConfigError
from rig.responsivity import Responsivity
from rig.spectrum import Calibration


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
        return self

    def calibration(self) -> Calibration:
        return Calibration(Responsivity.load(), transmission=self.transmission, scale=self.scale,
                           scale_u_rel=self.scale_u_rel, id=self.id, calibrated=True)


def load_calibration(path: str | Path) -> CalibrationFile:
    """Read and check a calibration file."""
    loaded = build_dataclass(CalibrationFile, load_toml(path), str(path))
    loaded.source = str(path)
    return loaded.validate()


def calibration_or_nominal(path: str | Path | None, transmission: float) -> Calibration:
    """The calibration from ``path``, or the datasheet-nominal one at ``transmission``."""
    if path is None:
        return nominal_calibration(transmission)
    return load_calibration(path).calibration()
