"""The wrap over its session: the lit readings from switch-on to the auto-off, the irradiance over them (start, end,
lowest, droop), the dose, and the wrap's behaviour (warm-up, droop, auto-off, temperatures) for run.json."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence as Seq
from typing import Any

from rig.claims.dose import dose_j_cm2
from rig.claims.evidence import Evidence, RunFacts
from rig.results.schema import number, truthy
from rig.run.phases import PHASE_KINDS

STABLE_BAND = 0.02  # output "stable" once within 2 % of the measure phase's mean
SESSION_KINDS = tuple(kind for kind, phase in PHASE_KINDS.items() if phase.lit_session)  # lit, main position
STRADDLE_DROP = 0.10  # a last lit reading this far below the one before it straddled the auto-off
GAIN_RATIO_U_REL = 0.05  # a reading pair at two different gains: their ratio is known to the parts' +/-5 % limit


def session_rows(rows: Seq[dict[str, Any]], facts: RunFacts) -> list[dict[str, Any]]:
    """Lit, unsaturated main-position readings with an irradiance, from switch-on to the auto-off (if seen)."""
    end = facts.auto_off_bracket_s[1] if facts.auto_off_bracket_s else facts.auto_off_t_s  # the first dark reading
    lit = [r for r in rows if r.get("phase_kind", r.get("phase")) in SESSION_KINDS and truthy(r.get("wrap_on"))
           and not truthy(r.get("saturated")) and not r.get("position") and r.get("event") != "auto-off detected"
           and number(r.get("irradiance_mw_cm2")) is not None and (end is None or float(r["t_s"]) < end)]
    if end is not None and len(lit) >= 2 and float(lit[-1]["irradiance_mw_cm2"]) < (
            1.0 - STRADDLE_DROP) * float(lit[-2]["irradiance_mw_cm2"]):
        lit.pop()  # the auto-off fell inside the last lit reading's integration: a part-dark reading
    return lit


def session_irradiance(rows: Seq[dict[str, Any]], facts: RunFacts) -> dict[str, float | None]:
    """Irradiance over the session: first and last reading, the lowest (each with its expanded u), and the droop
    from first to last in % of the first.

    The droop's u is relative: the calibration scale cancels in the ratio; what is left is the readings' own
    scatter (from successive differences, k=2) and, if the two readings were taken at different gains, the
    gain ratio's tolerance.
    """
    keys = ("irradiance_start_mw_cm2", "irradiance_start_u_mw_cm2", "irradiance_end_mw_cm2",
            "irradiance_end_u_mw_cm2", "irradiance_min_mw_cm2", "irradiance_min_u_mw_cm2", "irradiance_min_after_s",
            "irradiance_droop_pct", "irradiance_droop_u_pct")
    result: dict[str, float | None] = dict.fromkeys(keys)
    lit = session_rows(rows, facts)
    if not lit:
        return result
    values = [float(r["irradiance_mw_cm2"]) for r in lit]
    us = [number(r.get("irradiance_u_mw_cm2")) or 0.0 for r in lit]
    low = min(range(len(lit)), key=values.__getitem__)
    on = facts.switched_on_t_s if facts.switched_on_t_s is not None else float(lit[0]["t_s"])
    result.update(irradiance_start_mw_cm2=values[0], irradiance_start_u_mw_cm2=us[0],
                  irradiance_end_mw_cm2=values[-1], irradiance_end_u_mw_cm2=us[-1],
                  irradiance_min_mw_cm2=values[low], irradiance_min_u_mw_cm2=us[low],
                  irradiance_min_after_s=float(lit[low]["t_s"]) - on)
    if len(lit) < 2 or values[0] <= 0 or values[-1] <= 0:
        return result
    logs = [math.log(v) for v in values if v > 0]
    if len(logs) >= 3:
        # robust to steps and slopes (a throttle, the warm-up): median of the squared differences, which for
        # noise alone is 0.455 x their mean (chi-square, 1 degree of freedom)
        squares = [(b - a) ** 2 for a, b in zip(logs, logs[1:], strict=False)]
        scatter_rel = math.sqrt(statistics.median(squares) / 0.455 / 2)
        pair_rel = 2.0 * math.sqrt(2.0) * scatter_rel  # k=2, two readings
    else:
        pair_rel = math.hypot(us[0] / values[0], us[-1] / values[-1])
    if number(lit[0].get("gain_x")) != number(lit[-1].get("gain_x")):
        pair_rel = math.hypot(pair_rel, GAIN_RATIO_U_REL)
    ratio = values[-1] / values[0]
    result.update(irradiance_droop_pct=100.0 * (1.0 - ratio), irradiance_droop_u_pct=100.0 * ratio * pair_rel)
    return result


def session_irradiance_text(behaviour: dict[str, Any]) -> str | None:
    """One line on the irradiance over the session (from run.json's ``behaviour``), or None if not measured."""
    b = behaviour
    if b.get("irradiance_start_mw_cm2") is None:
        return None
    text = (f"irradiance over the session: start {b['irradiance_start_mw_cm2']:.3g}, end "
            f"{b['irradiance_end_mw_cm2']:.3g}, lowest {b['irradiance_min_mw_cm2']:.3g} mW/cm2 "
            f"({b['irradiance_min_after_s']:.0f} s after switch-on)")
    if b.get("irradiance_droop_pct") is not None:
        text += f"; droop {b['irradiance_droop_pct']:.1f} ± {b['irradiance_droop_u_pct']:.1f} %"
    return text

def session_dose(rows: Seq[dict[str, Any]], facts: RunFacts) -> tuple[float | None, float | None, str]:
    """Dose over the time the wrap was switched on (to auto-off, switch-off or the run's end), main position only."""
    lit = [r for r in rows if truthy(r.get("wrap_on")) and r.get("phase_kind", r.get("phase")) != "dark"
           and not r.get("position")]
    if not lit:
        return None, None, "the wrap was never on"
    times = [float(r["t_s"]) for r in lit]
    values = [number(r.get("irradiance_mw_cm2")) for r in lit]
    us = [number(r.get("irradiance_u_mw_cm2")) for r in lit]
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



def wrap_behaviour(rows: Seq[dict[str, Any]], facts: RunFacts) -> dict[str, float | None]:
    """Warm-up time, droop, auto-off time and temperatures, as measured (for run.json and the report)."""
    evidence = Evidence(rows, facts)
    lit = [r for r in rows if truthy(r.get("wrap_on")) and number(r.get("clear_basic"))
           and not truthy(r.get("saturated")) and not r.get("position")]
    measure_levels = [float(r["clear_basic"]) for r in lit if r.get("phase_kind", r.get("phase")) == "measure"]
    result: dict[str, float | None] = {"warmup_s": None, "droop_pct": None, "auto_off_after_s": None,
                                       "surface_max_c": None, "ambient_c": None, "surface_rise_c": None}
    result.update(session_irradiance(rows, facts))
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
    surface = evidence.surface_temps_c()
    ambient = [t for t in (number(r.get("ambient_c")) for r in rows) if t is not None]
    if surface:
        result["surface_max_c"] = max(surface)
    if ambient:
        result["ambient_c"] = statistics.fmean(ambient)
    if surface and ambient:
        result["surface_rise_c"] = max(surface) - statistics.fmean(ambient)
    return result
