"""Irradiance uniformity across sensor positions: per-position means, min/max ratio, coefficient of variation."""

from __future__ import annotations

import math
import statistics
from typing import Any


def _values(rows: list[dict[str, Any]], key: str) -> list[float]:
    out = []
    for row in rows:
        value = row.get(key)
        if value not in (None, "") and not (isinstance(value, float) and math.isnan(value)):
            out.append(float(value))
    return out


def summarize_positions(positions, per_position: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Statistics over positions. Uncertainties (k=2) come from the scatter of each position's readings:
    the calibration scale is common to all positions and cancels in the ratio and the CV."""
    table = []
    for position in positions:
        rows = per_position.get(position.name, [])
        irradiance = _values(rows, "irradiance_mw_cm2")
        if not irradiance:
            continue
        mean = statistics.fmean(irradiance)
        sem = statistics.stdev(irradiance) / math.sqrt(len(irradiance)) if len(irradiance) > 1 else 0.0
        peaks = _values(rows, "red_peak_nm")
        table.append({"name": position.name, "x_mm": position.x_mm, "y_mm": position.y_mm,
                      "irradiance_mw_cm2": mean, "irradiance_sem": sem, "samples": len(irradiance),
                      "red_peak_nm": statistics.fmean(peaks) if peaks else None})
    if not table:
        return {"positions": [], "mean_mw_cm2": None, "min_max_ratio": None, "min_max_ratio_u": None,
                "cv_pct": None, "cv_u_pct": None}
    means = [p["irradiance_mw_cm2"] for p in table]
    overall = statistics.fmean(means)
    low = min(table, key=lambda p: p["irradiance_mw_cm2"])
    high = max(table, key=lambda p: p["irradiance_mw_cm2"])
    ratio = low["irradiance_mw_cm2"] / high["irradiance_mw_cm2"] if high["irradiance_mw_cm2"] > 0 else 0.0
    rel = math.hypot(low["irradiance_sem"] / max(low["irradiance_mw_cm2"], 1e-9),
                     high["irradiance_sem"] / max(high["irradiance_mw_cm2"], 1e-9))
    cv = 100.0 * statistics.pstdev(means) / overall if overall > 0 and len(means) > 1 else 0.0
    noise_cv = 100.0 * statistics.fmean(p["irradiance_sem"] for p in table) / overall if overall > 0 else 0.0
    return {"positions": table, "mean_mw_cm2": overall, "min_mw_cm2": low["irradiance_mw_cm2"],
            "max_mw_cm2": high["irradiance_mw_cm2"], "min_max_ratio": ratio,
            "min_max_ratio_u": 2 * ratio * rel + 0.005, "cv_pct": cv, "cv_u_pct": 2 * noise_cv + 0.5}
