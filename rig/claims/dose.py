"""Dose over a session: irradiance integrated over the time the wrap was on (J/cm2).

dose (J/cm2) = integral of irradiance (mW/cm2) over time (s) / 1000, by the
trapezoid rule between consecutive samples.

- Off-time does not count: with ``on`` given, only the intervals between two
  consecutive samples that are *both* on are integrated (the wrap's switching
  instant between an on and an off sample is unknown; the caller can add a
  sample at the known switching time).
- Missing samples (None, NaN or "", e.g. a refused saturated reading) are
  bridged by linear interpolation between the nearest known samples of the
  same on-stretch, and held constant at a stretch's ends. An on-stretch with no
  known sample at all contributes nothing.
- Uncertainty: each sample's uncertainty is integrated *linearly*
  (trapezoid of the u values), not in quadrature, because the calibration's
  scale part is the same for every sample (fully correlated) and does not
  average down. This is an upper bound for the small, independent noise part.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def dose_j_cm2(t_s: Sequence[float], irradiance_mw_cm2: Sequence[float | None], on: Sequence[bool] | None = None,
               irradiance_u: Sequence[float | None] | None = None) -> tuple[float, float]:
    """Dose (J/cm2) and its uncertainty (J/cm2, same coverage as ``irradiance_u``) from samples.

    ``t_s``: sample times (s, increasing); ``irradiance_mw_cm2``: irradiance at
    the surface (mW/cm2; None/NaN where unknown); ``on``: whether the wrap was on
    at each sample (default: always); ``irradiance_u``: each sample's
    uncertainty (mW/cm2; None/NaN where unknown are interpolated like values).
    """
    n = len(t_s)
    if len(irradiance_mw_cm2) != n or (on is not None and len(on) != n) or (
            irradiance_u is not None and len(irradiance_u) != n):
        raise ValueError("t_s, irradiance_mw_cm2, on and irradiance_u must have the same length")
    times = np.asarray([float(t) for t in t_s])
    if n > 1 and np.any(np.diff(times) < 0):
        raise ValueError("t_s must be increasing")
    values = np.asarray([_value(e) for e in irradiance_mw_cm2])
    errors = np.asarray([_value(u) for u in irradiance_u]) if irradiance_u is not None else np.zeros(n)
    lit = np.asarray([bool(x) for x in on]) if on is not None else np.ones(n, dtype=bool)
    dose = dose_u = 0.0
    for start, stop in _runs(lit):
        t = times[start:stop]
        if len(t) < 2:
            continue
        e, u = _bridge(t, values[start:stop]), _bridge(t, errors[start:stop])
        if e is None:
            continue
        dose += float(np.sum(0.5 * (e[1:] + e[:-1]) * np.diff(t)))
        if u is not None:
            dose_u += float(np.sum(0.5 * (u[1:] + u[:-1]) * np.diff(t)))
    return dose / 1000.0, dose_u / 1000.0


def _runs(lit: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index ranges of consecutive True values."""
    runs, start = [], None
    for i, value in enumerate(lit):
        if value and start is None:
            start = i
        elif not value and start is not None:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(lit)))
    return runs


def _bridge(t: np.ndarray, values: np.ndarray) -> np.ndarray | None:
    """Fill NaNs by linear interpolation in time (constant beyond the ends); None if nothing is known."""
    known = np.isfinite(values)
    if not known.any():
        return None
    if known.all():
        return values
    return np.interp(t, t[known], values[known])


def _value(value: object) -> float:
    if value is None or value == "":
        return math.nan
    return float(value)  # type: ignore[arg-type]
