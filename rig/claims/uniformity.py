"""Irradiance uniformity across sensor positions: per-position means, min/max ratio, coefficient of variation."""

from __future__ import annotations

import math
import statistics
from typing import Any

import numpy as np

from rig.calibration.positions import UNCALIBRATED_U_REL, PositionScale, scale_for


def _values(rows: list[dict[str, Any]], key: str) -> list[float]:
    out = []
    for row in rows:
        value = row.get(key)
        if value not in (None, "") and not (isinstance(value, float) and math.isnan(value)):
            out.append(float(value))
    return out


def _cv_u_pct(means: list[float], u_rel: list[float], draws: int = 400) -> float:
    """Standard u of the CV (%) from each mean's relative standard u, by drawing the means (the CV is not linear
    in them near 0): the spread of the CV over ``draws`` draws, fixed seed."""
    rng = np.random.default_rng(0)
    drawn = np.asarray(means) * (1.0 + np.asarray(u_rel) * rng.standard_normal((draws, len(means))))
    return float(np.std(100.0 * drawn.std(axis=1) / drawn.mean(axis=1)))


def summarize_positions(positions, per_position: dict[str, list[dict[str, Any]]],
                        scales: dict[str, PositionScale] | None = None) -> dict[str, Any]:
    """Statistics over positions, each position's mean on position 0's scale (``scales``: the cross-calibration,
    :mod:`rig.calibration.positions`). The common calibration scale cancels in the ratio and the CV; what is
    left per position is its readings' scatter and its sensor's relative scale (uncalibrated: the spread of
    production units). Uncertainties k=2."""
    scales = scales or {}
    muxed = [p for p in positions if not getattr(p, "by_hand", getattr(p, "mux_channel", 0) is None)]
    first = muxed[0].name if muxed else None
    table = []
    for position in positions:
        rows = per_position.get(position.name, [])
        irradiance = _values(rows, "irradiance_mw_cm2")
        if not irradiance:
            continue
        factor = scale_for(position, scales, first)
        mean = factor.scale * statistics.fmean(irradiance)
        sem = factor.scale * statistics.stdev(irradiance) / math.sqrt(len(irradiance)) if len(irradiance) > 1 else 0.0
        rel = math.hypot(sem / mean, factor.u_rel) if mean > 0 else 0.0
        peaks = _values(rows, "red_peak_nm")
        table.append({"name": position.name, "x_mm": position.x_mm, "y_mm": position.y_mm,
                      "irradiance_mw_cm2": mean, "irradiance_sem": sem, "samples": len(irradiance),
                      "scale": factor.scale, "scale_u_rel": factor.u_rel, "u_rel": rel,
                      "red_peak_nm": statistics.fmean(peaks) if peaks else None})
    if not table:
        return {"positions": [], "mean_mw_cm2": None, "min_max_ratio": None, "min_max_ratio_u": None,
                "cv_pct": None, "cv_u_pct": None}
    means = [p["irradiance_mw_cm2"] for p in table]
    overall = statistics.fmean(means)
    low = min(table, key=lambda p: p["irradiance_mw_cm2"])
    high = max(table, key=lambda p: p["irradiance_mw_cm2"])
    ratio = low["irradiance_mw_cm2"] / high["irradiance_mw_cm2"] if high["irradiance_mw_cm2"] > 0 else 0.0
    rel = math.hypot(low["u_rel"], high["u_rel"])
    cv = 100.0 * statistics.pstdev(means) / overall if overall > 0 and len(means) > 1 else 0.0
    cv_u = _cv_u_pct(means, [p["u_rel"] for p in table]) if len(means) > 1 else 0.0
    return {"positions": table, "mean_mw_cm2": overall, "min_mw_cm2": low["irradiance_mw_cm2"],
            "max_mw_cm2": high["irradiance_mw_cm2"], "min_max_ratio": ratio,
            "min_max_ratio_u": 2 * ratio * rel + 0.005, "cv_pct": cv, "cv_u_pct": 2 * cv_u + 0.5,
            "positions_cross_calibrated": all(p["scale_u_rel"] < UNCALIBRATED_U_REL for p in table)}
