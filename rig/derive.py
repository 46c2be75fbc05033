"""Glue between samples and the spectral estimate: the calibration in use and a per-row deriver."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rig.line_plan import LinePlan, claimed_lines, line_columns, plan_lines
from rig.responsivity import CHANNELS, Responsivity
from rig.spectrum import Calibration, ModelUncertainty, estimate


def nominal_calibration(transmission: float) -> Calibration:
    """Datasheet-nominal calibration (uncalibrated): the shipped responsivity table, scale 1."""
    return Calibration(Responsivity.load(), transmission=transmission)


def line_plan(calibration: Calibration | None, lines: Sequence = ()) -> LinePlan | None:
    """The fitted lines for a mode's claimed lines (:class:`~rig.profile.LineClaim`) on this calibration's
    sensor; None when the mode claims no lines (the default red + NIR estimate)."""
    if not lines:
        return None
    if calibration is None:
        return plan_lines(claimed_lines(lines), Responsivity.load(), ModelUncertainty())
    return plan_lines(claimed_lines(lines), calibration.responsivity, calibration.model_u)


class Deriver:
    """Adds peaks and irradiance to a sample row (dark baseline subtracted); ``columns`` are the ones it adds."""

    def __init__(self, function: Callable[[dict[str, Any], dict[str, float]], dict], plan: LinePlan | None):
        self.function, self.plan = function, plan
        self.columns = [*line_columns(plan), "calibration_id"]

    def __call__(self, row: dict[str, Any], dark_counts: dict[str, float]) -> dict[str, Any]:
        return self.function(row, dark_counts)


def make_deriver(calibration: Calibration | None = None, lines: Sequence = ()) -> Deriver:
    """A function adding peaks and irradiance to a sample row, dark baseline subtracted.

    Without a calibration, the datasheet-nominal one is used with the row's own
    attenuator transmission. Dark counts: the run's dark baseline when it has
    one, else the calibration's. ``lines``: the mode's claimed lines (the estimate
    fits them; their columns are in ``.columns``).
    """
    cache: dict[float, Calibration] = {}
    plan = line_plan(calibration, lines)

    def derive(row: dict[str, Any], dark_counts: dict[str, float]) -> dict[str, Any]:
        base = calibration
        if base is None:
            transmission = float(row["transmission"])
            base = cache.get(transmission) or cache.setdefault(transmission, nominal_calibration(transmission))
        if dark_counts:  # the run's own dark baseline beats the calibration's
            base = base.with_dark(tuple(dark_counts.get(c, 0.0) for c in CHANNELS))
        result = estimate([row[c] for c in CHANNELS], float(row["gain_x"]), float(row["t_int_ms"]),
                          base, bool(row.get("saturated")), plan=plan)
        values = result.as_dict()
        values["calibration_id"] = base.id
        if not base.calibrated:
            values["flags"] = ";".join(f for f in (values["flags"], "uncalibrated") if f)
        return values

    return Deriver(derive, plan)
