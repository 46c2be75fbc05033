"""From a run's rows to one :class:`~rig.verdict.ClaimCheck` per claim, and the wrap's measured behaviour.

Pure Python over the list of sample rows (the same dicts written to
``samples.csv``), so it runs at the end of a run on the Pi and again in
``rig analyze`` on old data.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence as Seq
from dataclasses import dataclass, replace
from typing import Any

from rig.dose import dose_j_cm2
from rig.profile import Claims
from rig.verdict import ClaimCheck, Verdict, check_claim

PROBE_U_C = 0.5  # nominal Beta-model thermistor: +/-0.5 C (Steinhart-Hart calibrated probes: +/-0.1 C)
STABLE_BAND = 0.02  # output "stable" once within 2 % of the measure phase's mean


@dataclass
class RunFacts:
    """What the runner observed besides the rows (times in s since the run's start)."""

    switched_on_t_s: float | None = None
    switched_off_t_s: float | None = None
    auto_off_t_s: float | None = None
    soak_limit_reached: bool = False
    soak_interval_s: float | None = None
    soak_end_t_s: float | None = None  # when a soak until auto-off hit its time limit
    pulse: dict | None = None  # the pulse capture's analysis (rig.pulse.PulseResult.as_dict), if any
    uniformity: dict | None = None  # rig.uniformity.summarize_positions, if the run had a uniformity phase


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _mean_with_u(rows: Seq[dict[str, Any]], key: str, u_key: str) -> tuple[float | None, float | None, int]:
    """Mean of a column with its uncertainty: the samples' own u (systematic, does not average down)
    added in quadrature to the standard error of the mean."""
    pairs = [(_number(r.get(key)), _number(r.get(u_key))) for r in rows]
    pairs = [(v, u or 0.0) for v, u in pairs if v is not None]
    if not pairs:
        return None, None, 0
    values = [v for v, _ in pairs]
    mean = statistics.fmean(values)
    sem = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    u = math.hypot(statistics.fmean(u for _, u in pairs), sem)
    return mean, u, len(values)


def _rows(rows: Seq[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in rows if r.get("phase_kind", r.get("phase")) == kind and _truthy(r.get("wrap_on"))
            and not _truthy(r.get("saturated"))]


def _truthy(value: Any) -> bool:
    return value not in (None, "", 0, "0", False, "False", "false")


def _pct_band(claimed: float, pct: float) -> tuple[float, float, str]:
    return claimed * (1 - pct / 100), claimed * (1 + pct / 100), f"±{pct:g} %"


def check_claims(claims: Claims, rows: Seq[dict[str, Any]], facts: RunFacts) -> list[ClaimCheck]:
    """One check per claim of the mode under test (max surface temperature always)."""
    measure = _rows(rows, "measure")
    why_no_light = "no unsaturated sample in a 'measure' phase with the wrap on"
    checks: list[ClaimCheck] = []

    for band, claimed, tol in (("red", claims.red_peak_nm, claims.red_peak_tolerance_nm),
                               ("nir", claims.nir_peak_nm, claims.nir_peak_tolerance_nm)):
        if claimed is None:
            continue
        peak, u, n = _mean_with_u(measure, f"{band}_peak_nm", f"{band}_peak_u_nm")
        name = f"{'red' if band == 'red' else 'NIR'} peak wavelength"
        if peak is None and measure:
            # the wrap was measured, lit, and showed no such band: the claimed LEDs are not there
            checks.append(ClaimCheck(name, "nm", claimed, f"±{tol:g} nm", claimed - tol, claimed + tol, None, None,
                                     Verdict.FAIL, f"no {band.upper()} band detected in {len(measure)} samples"))
            continue
        checks.append(check_claim(name, "nm", claimed, f"±{tol:g} nm", claimed - tol, claimed + tol, peak, u,
                                  why_no_light))

    if claims.irradiance_mw_cm2 is not None:
        value, u, _ = _mean_with_u(measure, "irradiance_mw_cm2", "irradiance_u_mw_cm2")
        low, high, tol = _pct_band(claims.irradiance_mw_cm2, claims.irradiance_tolerance_pct)
        checks.append(check_claim("irradiance at contact", "mW/cm2", claims.irradiance_mw_cm2, tol, low, high,
                                  value, u, why_no_light))

    if claims.dose_j_cm2 is not None:
        dose, dose_u, note = session_dose(rows, facts)
        low, high, tol = _pct_band(claims.dose_j_cm2, claims.dose_tolerance_pct)
        check = check_claim("dose per session", "J/cm2", claims.dose_j_cm2, tol, low, high, dose, dose_u, note)
        checks.append(_with_note(check, note))

    if claims.session_s is not None:
        checks.append(_session_check(claims, facts))

    temps = [t for t in (_number(r.get("surface_c")) for r in rows) if t is not None]
    limit = claims.max_surface_c
    checks.append(check_claim("max surface temperature", "C", limit, "at most", None, limit,
                              max(temps) if temps else None, PROBE_U_C if temps else None,
                              "no valid surface temperature reading"))

    checks += _pulse_checks(claims, facts.pulse)
    checks += _uniformity_checks(claims, facts.uniformity)
    return checks


def _pulse_checks(claims: Claims, pulse: dict | None) -> list[ClaimCheck]:
    """Pulse frequency, duty cycle and flicker against a pulse capture (NOT MEASURED without one)."""
    checks = []
    why = "the sequence has no 'pulse' phase"
    if claims.pulse_hz is not None:
        tol = claims.pulse_tolerance_pct
        low, high, band = _pct_band(claims.pulse_hz, tol)
        if pulse is not None and pulse.get("pulse_hz") is None:
            checks.append(ClaimCheck("pulse frequency", "Hz", claims.pulse_hz, band, low, high, None, None,
                                     Verdict.FAIL, f"no pulsing measured (modulation {pulse['modulation_pct']:.1f} %)"))
        else:
            checks.append(check_claim("pulse frequency", "Hz", claims.pulse_hz, band, low, high,
                                      (pulse or {}).get("pulse_hz"), (pulse or {}).get("pulse_u_hz"), why))
    if claims.duty_pct is not None:
        tol = claims.duty_tolerance_pct
        checks.append(check_claim("duty cycle", "%", claims.duty_pct, f"±{tol:g} points", claims.duty_pct - tol,
                                  claims.duty_pct + tol, (pulse or {}).get("duty_pct"), (pulse or {}).get("duty_u_pct"),
                                  why if pulse is None else "no pulsing measured"))
    if claims.max_flicker_pct is not None:
        checks.append(check_claim("flicker (percent, IEEE 1789)", "%", claims.max_flicker_pct, "at most", None,
                                  claims.max_flicker_pct, (pulse or {}).get("modulation_pct"),
                                  (pulse or {}).get("modulation_u_pct"), why))
    return checks


def _uniformity_checks(claims: Claims, uniformity: dict | None) -> list[ClaimCheck]:
    """Irradiance uniformity across the wrap: min/max ratio at least, coefficient of variation at most."""
    checks = []
    why = "the sequence has no 'uniformity' phase"
    if claims.min_uniformity_ratio is not None:
        checks.append(check_claim("uniformity (min/max irradiance)", "ratio", claims.min_uniformity_ratio,
                                  "at least", claims.min_uniformity_ratio, None,
                                  (uniformity or {}).get("min_max_ratio"), (uniformity or {}).get("min_max_ratio_u"),
                                  why))
    if claims.max_cv_pct is not None:
        checks.append(check_claim("uniformity (CV of irradiance)", "%", claims.max_cv_pct, "at most", None,
                                  claims.max_cv_pct, (uniformity or {}).get("cv_pct"),
                                  (uniformity or {}).get("cv_u_pct"), why))
    return checks


def _with_note(check: ClaimCheck, note: str) -> ClaimCheck:
    return replace(check, note=note) if note and not check.note else check


def session_dose(rows: Seq[dict[str, Any]], facts: RunFacts) -> tuple[float | None, float | None, str]:
    """Dose over the time the wrap was switched on (to auto-off, switch-off or the run's end)."""
    lit = [r for r in rows if _truthy(r.get("wrap_on")) and r.get("phase_kind", r.get("phase")) != "dark"]
    if not lit:
        return None, None, "the wrap was never on"
    times = [float(r["t_s"]) for r in lit]
    values = [_number(r.get("irradiance_mw_cm2")) for r in lit]
    us = [_number(r.get("irradiance_u_mw_cm2")) for r in lit]
    if all(v is None for v in values):
        return None, None, "no irradiance measured while on"
    start = facts.switched_on_t_s if facts.switched_on_t_s is not None else times[0]
    times = [start, *times]
    values = [values[0] if values[0] is not None else next(v for v in values if v is not None), *values]
    us = [us[0], *us]
    dose, dose_u = dose_j_cm2(times, values, irradiance_u=us)
    end = facts.auto_off_t_s if facts.auto_off_t_s is not None else times[-1]
    note = f"integrated over {end - start:.0f} s switched on"
    if facts.auto_off_t_s is None:
        note += " (no auto-off observed: the session may be longer)"
    return dose, dose_u, note


def _session_check(claims: Claims, facts: RunFacts) -> ClaimCheck:
    claimed, tol = claims.session_s, claims.session_tolerance_s
    low, high, band = claimed - tol, claimed + tol, f"±{tol:g} s"
    if facts.auto_off_t_s is not None and facts.switched_on_t_s is not None:
        measured = facts.auto_off_t_s - facts.switched_on_t_s
        return check_claim("session length / auto-off", "s", claimed, band, low, high, measured,
                           facts.soak_interval_s or 1.0)
    if facts.soak_limit_reached and facts.switched_on_t_s is not None and facts.soak_end_t_s is not None:
        on_for = facts.soak_end_t_s - facts.switched_on_t_s
        if on_for > high:
            return ClaimCheck("session length / auto-off", "s", claimed, band, low, high, None, None, Verdict.FAIL,
                              f"still on after {on_for:.0f} s: no auto-off within the claimed {claimed:.0f} s")
    return check_claim("session length / auto-off", "s", claimed, band, low, high, None, None,
                       "the sequence has no soak until auto-off long enough to see it")


def wrap_behaviour(rows: Seq[dict[str, Any]], facts: RunFacts) -> dict[str, float | None]:
    """Warm-up time, droop, auto-off time and temperatures, as measured (for run.json and the report)."""
    lit = [r for r in rows if _truthy(r.get("wrap_on")) and _number(r.get("clear_basic"))
           and not _truthy(r.get("saturated"))]
    measure_levels = [float(r["clear_basic"]) for r in lit if r.get("phase_kind", r.get("phase")) == "measure"]
    result: dict[str, float | None] = {"warmup_s": None, "droop_pct": None, "auto_off_after_s": None,
                                       "max_surface_c": None, "ambient_c": None, "max_rise_c": None}
    if lit and measure_levels and facts.switched_on_t_s is not None:
        reference = statistics.fmean(measure_levels)
        measure_end_t = max(float(r["t_s"]) for r in lit if r.get("phase_kind", r.get("phase")) == "measure")
        up_to_measure = [r for r in lit if float(r["t_s"]) <= measure_end_t]
        outside = [i for i, r in enumerate(up_to_measure)
                   if abs(float(r["clear_basic"]) - reference) > STABLE_BAND * reference]
        first_stable = outside[-1] + 1 if outside else 0
        stable_from = float(up_to_measure[first_stable]["t_s"]) if first_stable < len(up_to_measure) else None
        result["warmup_s"] = None if stable_from is None else stable_from - facts.switched_on_t_s
        first = float(lit[0]["clear_basic"])
        last_on = [float(r["clear_basic"]) for r in lit if r.get("event") != "auto-off detected"]
        result["droop_pct"] = 100.0 * (first - last_on[-1]) / first if first else None
    if facts.auto_off_t_s is not None and facts.switched_on_t_s is not None:
        result["auto_off_after_s"] = facts.auto_off_t_s - facts.switched_on_t_s
    surface = [t for t in (_number(r.get("surface_c")) for r in rows) if t is not None]
    ambient = [t for t in (_number(r.get("ambient_c")) for r in rows) if t is not None]
    if surface:
        result["max_surface_c"] = max(surface)
    if ambient:
        result["ambient_c"] = statistics.fmean(ambient)
    if surface and ambient:
        result["max_rise_c"] = max(surface) - statistics.fmean(ambient)
    return result
