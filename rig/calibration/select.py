"""Which calibration a command uses: the file named (checked for this sensor, chip and age) or the chip's
datasheet-nominal one."""

from __future__ import annotations

from pathlib import Path

from rig.calibration.file import load_calibration
from rig.chips import DEFAULT_CHIP, SpectralChip
from rig.errors import RigError
from rig.spectrum import Calibration
from rig.spectrum.derive import nominal_calibration


def select_calibration(path: str | None, sensor_id: str, transmission: float, max_age_days: float,
                       force: bool = False, chip: SpectralChip | None = None) -> tuple[Calibration, list[str]]:
    """The active calibration for this sensor (on ``chip``, default the default chip), with warnings; refuses
    another sensor's unless forced, and another chip's always (its channels are not this bench's)."""
    if not path:
        return nominal_calibration(transmission, chip), [
            "no calibration file: irradiance uses the datasheet-nominal scale and is marked 'uncalibrated'"]
    loaded = load_calibration(path)
    loaded.check_chip(chip or DEFAULT_CHIP)
    warnings = []
    if loaded.sensor_id != sensor_id:
        message = (f"{path}: calibration {loaded.id!r} was made for sensor {loaded.sensor_id!r}, "
                   f"this bench has {sensor_id!r}")
        if not force:
            raise RigError(message + " (use --force-calibration to use it anyway)")
        warnings.append(message + " (forced)")
    warnings += loaded.date_warnings()
    age = loaded.age_days()
    if age is not None and age > max_age_days:
        warnings.append(f"calibration {loaded.id!r} is {age:.0f} days old (limit {max_age_days:.0f}): recalibrate")
    return loaded.calibration(), warnings


def calibration_or_nominal(path: str | Path | None, transmission: float, chip: SpectralChip | None = None
                           ) -> Calibration:
    """The calibration from ``path`` (refused unless made for ``chip``, when given), or ``chip``'s
    datasheet-nominal one at ``transmission``."""
    if path is None:
        return nominal_calibration(transmission, chip)
    loaded = load_calibration(path)
    if chip is not None:
        loaded.check_chip(chip)
    return loaded.calibration()
