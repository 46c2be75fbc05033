"""A calibration's traceability as stored in run.json (light: the run imports it; no pandas)."""

from __future__ import annotations

from typing import Any


def traceability(calibration: Any) -> dict[str, Any]:
    """What a certificate must say about a calibration file (stored in run.json, so the run keeps it even when
    the file changes later): ids, dates, method, and every reference with its uncertainty."""
    if calibration is None:
        return {}
    spectral = [{"peak_nm": r.reference_peak_nm, "u_nm": r.reference_u_nm, "readings": r.readings,
                 "fitted_peak_nm": r.fitted_peak_nm}
                for r in getattr(calibration, "spectral_references", []) or []]
    meter: dict[tuple[float, float], int] = {}
    for point in getattr(calibration, "points", []) or []:
        key = (round(point.reference_nm, 1), round(point.reference_mw_cm2, 3))
        meter[key] = meter.get(key, 0) + 1
    return {"id": getattr(calibration, "id", ""), "created": getattr(calibration, "created", ""),
            "spectral_created": getattr(calibration, "spectral_created", ""),
            "sensor_id": getattr(calibration, "sensor_id", ""), "jig": getattr(calibration, "jig", ""),
            "method": getattr(calibration, "method", ""), "spectral_method": getattr(calibration, "spectral_method",
                                                                                      ""),
            "scale_u_rel": getattr(calibration, "scale_u_rel", None),
            "meter_u_pct": _meter_u_pct(getattr(calibration, "method", "") or ""),
            "irradiance_references": [{"nm": nm, "mw_cm2": mw, "readings": n} for (nm, mw), n in meter.items()],
            "spectral_references": spectral}


def _meter_u_pct(method: str) -> float | None:
    """The reference meter's standard uncertainty as `rig calibrate irradiance` writes it in the method."""
    import re

    found = re.search(r"reference u ([0-9.]+) ?%", method)
    return float(found.group(1)) if found else None


def traceability_of(path: str | None) -> dict[str, Any]:
    """:func:`traceability` of the calibration file at ``path`` ({} without one)."""
    if not path:
        return {}
    from rig.calibration.file import load_calibration

    return traceability(load_calibration(path))
