"""Glue between samples and the spectral estimate: the calibration in use and a per-row deriver."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rig.responsivity import CHANNELS, Responsivity
from rig.spectrum import Calibration, estimate


def nominal_calibration(transmission: float) -> Calibration:
    """Datasheet-nominal calibration (uncalibrated): the shipped responsivity table, scale 1."""
    return Calibration(Responsivity.load(), transmission=transmission)


def make_deriver(calibration: Calibration | None = None) -> Callable[[dict[str, Any], dict[str, float]], dict]:
    """A function adding peaks and irradiance to a sample row, dark baseline subtracted.

    Without a calibration, the datasheet-nominal one is used with the row's own
    attenuator transmission. Dark counts: the run's dark baseline when it has
    one, else the calibration's.
    """
    cache: dict[float, Calibration] = {}

    def derive(row: dict[str, Any], dark_counts: dict[str, float]) -> dict[str, Any]:
        base = calibration
        if base is None:
            transmission = float(row["transmission"])
            base = cache.get(transmission) or cache.setdefault(transmission, nominal_calibration(transmission))
        if dark_counts:  # the run's own dark baseline beats the calibration's
            base = base.with_dark(tuple(dark_counts.get(c, 0.0) for c in CHANNELS))
        result = estimate([row[c] for c in CHANNELS], float(row["gain_x"]), float(row["t_int_ms"]),
                          base, bool(row.get("saturated")))
        values = result.as_dict()
        values["calibration_id"] = base.id
        if not base.calibrated:
            values["flags"] = ";".join(f for f in (values["flags"], "uncalibrated") if f)
        return values

    return derive
