"""Dose over a session: irradiance integrated over the time the wrap was on (J/cm2)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def dose_j_cm2(t_s: Sequence[float], irradiance_mw_cm2: Sequence[float | None], on: Sequence[bool] | None = None,
               irradiance_u: Sequence[float | None] | None = None) -> tuple[float, float]:
    """Trapezoid integral of irradiance over time while ``on`` (mW/cm2 x s / 1000 = J/cm2), with its uncertainty.

    Missing samples (None/NaN, e.g. a refused saturated reading) are bridged by
    linear interpolation between their neighbours. The uncertainty adds the
    samples' uncertainties *linearly* along the integral: the calibration part
    of each is the same for every sample (fully correlated), so it does not
    average down.
    """
    points = [(float(t), _value(e), _value(u) if irradiance_u is not None else 0.0)
              for t, e, u, lit in zip(t_s, irradiance_mw_cm2, irradiance_u or [0.0] * len(t_s),
                                      on if on is not None else [True] * len(t_s), strict=True) if lit]
    known = [(t, e, u) for t, e, u in points if e is not None]
    if len(known) < 2:
        return 0.0, 0.0
    dose = dose_u = 0.0
    for (t0, e0, u0), (t1, e1, u1) in zip(known, known[1:], strict=False):
        dt = t1 - t0
        dose += 0.5 * (e0 + e1) * dt
        dose_u += 0.5 * ((u0 or 0.0) + (u1 or 0.0)) * dt
    return dose / 1000.0, dose_u / 1000.0


def _value(value: float | None) -> float | None:
    if value is None or value == "":
        return None
    value = float(value)
    return None if math.isnan(value) else value
