"""How each claim is measured from a run's :class:`~rig.claims.evidence.Evidence`: one function (or maker of one) per
kind of claim, each returning a :class:`~rig.claims.evidence.Measured` (value and k=2 U, or why not)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from collections.abc import Sequence as Seq
from typing import Any

from rig.claims.evidence import Evidence, Measured
from rig.claims.line_groups import judge_member, robust_interval, robust_with_u, shares
from rig.claims.session import session_dose, session_irradiance, session_rows
from rig.claims.verdict import Verdict
from rig.profile import Claims
from rig.results.schema import number

PROBE_U_C = 0.5  # nominal Beta-model thermistor: +/-0.5 C (Steinhart-Hart calibrated probes: +/-0.1 C)


def mean_with_u(rows: Seq[dict[str, Any]], key: str, u_key: str) -> tuple[float | None, float | None, int]:
    """A column over a phase, robustly (:func:`rig.claims.line_groups.robust_with_u`): the readings' median, its U the
    typical reading's own U (systematic, does not average down) with the median's spread (k=2); a few wild
    readings never dominate either."""
    pairs = [(number(r.get(key)), number(r.get(u_key))) for r in rows]
    pairs = [(v, u or 0.0) for v, u in pairs if v is not None]
    if not pairs:
        return None, None, 0
    value, u = robust_with_u([v for v, _ in pairs], [u for _, u in pairs])
    return value, u, len(pairs)


def peak_with_interval(rows: Seq[dict[str, Any]], name: str, note: str = "") -> Measured:
    """A peak column over a phase (``<name>_peak_nm``), robustly, judged on its k=2 interval: each reading's
    ``_peak_low_nm`` / ``_peak_high_nm`` where every reading has them (a profile skewed to one side, as near a
    filter's top, keeps its short side), else its symmetric ``_peak_u_nm`` (runs written before the ends were);
    with every reading's ``_peak_noise_u_nm``, that part averages over the phase (:func:`robust_interval`)."""
    read = [(number(r.get(f"{name}_peak_nm")), number(r.get(f"{name}_peak_low_nm")),
             number(r.get(f"{name}_peak_high_nm")), number(r.get(f"{name}_peak_noise_u_nm"))) for r in rows]
    read = [t for t in read if t[0] is not None]
    if not read or not all(lo is not None and hi is not None for _v, lo, hi, _n in read):
        value, u, _ = mean_with_u(rows, f"{name}_peak_nm", f"{name}_peak_u_nm")
        return Measured(value, u, note) if value is not None else Measured(note=note)
    values, lows, highs, noises = zip(*read, strict=True)
    value, below, above = robust_interval(values, lows, highs,
                                          noises if all(n is not None for n in noises) else None)
    u = max(below, above)
    if math.isclose(below, above, rel_tol=0.05):
        return Measured(value, u, note)
    return Measured(value, u, f"k=2 interval {value - below:.1f}-{value + above:.1f} nm", show_note=True,
                    interval=(value - below, value + above))


NO_MEASURE = "no unsaturated sample in a 'measure' phase with the wrap on"


def peak(band: str) -> Callable[[Evidence], Measured]:
    def measure(evidence: Evidence) -> Measured:
        rows = evidence.lit("measure")
        measured = peak_with_interval(rows, band, NO_MEASURE)
        if measured.value is None and rows:  # measured, lit, and no such band: the claimed LEDs are not there
            return Measured(note=f"no {band.upper()} band detected in {len(rows)} samples", verdict=Verdict.FAIL)
        return measured
    return measure


def irradiance(evidence: Evidence) -> Measured:
    value, u, _ = mean_with_u(evidence.lit("measure"), "irradiance_mw_cm2", "irradiance_u_mw_cm2")
    return Measured(value, u, NO_MEASURE)

def irradiance_over_session(evidence: Evidence) -> Measured:
    """The claimed band must hold at every reading of the session: the lowest and the highest are judged and
    the one that fares worse is reported."""
    lit = session_rows(evidence.rows, evidence.facts)
    if not lit:
        return Measured(note="no unsaturated irradiance reading with the wrap on")
    on = evidence.facts.switched_on_t_s or 0.0
    def level(row: dict[str, Any]) -> float:
        return float(row["irradiance_mw_cm2"])

    ends = [min(lit, key=level), max(lit, key=level)]
    found = [(float(r["irradiance_mw_cm2"]), number(r.get("irradiance_u_mw_cm2")) or 0.0,
              f"t = {float(r['t_s']) - on:.0f} s after switch-on") for r in ends]
    (low, low_u, low_at), (high, high_u, high_at) = found
    text = (f"over the session ({len(lit)} readings): lowest {low:.3g} ± {low_u:.2g} at {low_at}, "
            f"highest {high:.3g} ± {high_u:.2g} at {high_at}")
    return Measured(low, low_u, text, show_note=True, upper=(high, high_u))


def session_min(evidence: Evidence) -> Measured:
    stats = session_irradiance(evidence.rows, evidence.facts)
    if stats["irradiance_min_mw_cm2"] is None:
        return Measured(note="no unsaturated irradiance reading with the wrap on")
    note = f"lowest at {stats['irradiance_min_after_s']:.0f} s after switch-on"
    if stats["irradiance_droop_pct"] is not None:
        note += (f"; droop over the session {stats['irradiance_droop_pct']:.1f} ± "
                 f"{stats['irradiance_droop_u_pct']:.1f} %")
    return Measured(stats["irradiance_min_mw_cm2"], stats["irradiance_min_u_mw_cm2"], note, show_note=True)


def dose(evidence: Evidence) -> Measured:
    dose, dose_u, note = session_dose(evidence.rows, evidence.facts)
    return Measured(dose, dose_u, note)


def session_length(evidence: Evidence) -> Measured:
    facts = evidence.facts
    if facts.auto_off_t_s is not None and facts.switched_on_t_s is not None:
        u = facts.auto_off_u_s if facts.auto_off_u_s is not None else facts.soak_interval_s or 1.0
        return Measured(facts.auto_off_t_s - facts.switched_on_t_s, u)
    if facts.soak_limit_reached and facts.switched_on_t_s is not None and facts.soak_end_t_s is not None:
        return Measured(note=f"still on after {facts.soak_end_t_s - facts.switched_on_t_s:.0f} s: no auto-off",
                        verdict=Verdict.FAIL)
    return Measured(note="the sequence has no soak until auto-off long enough to see it")


def surface_max(evidence: Evidence) -> Measured:
    temps = evidence.surface_temps_c()
    if not temps:
        return Measured(note="no valid surface temperature reading")
    return Measured(max(temps), PROBE_U_C)


def pulse_value(key: str, u_key: str) -> Callable[[Evidence], Measured]:
    def measure(evidence: Evidence) -> Measured:
        pulse = evidence.facts.pulse
        if pulse is None:
            return Measured(note="the sequence has no 'pulse' phase")
        if pulse.get("pulse_method") == "limit":  # nothing found, but too little light to say "steady"
            seen = float(pulse.get("pwm_seen_up_to_hz") or 0.0)
            return Measured(note=f"no modulation found, but too little light at the sensor to exclude full-depth "
                                 f"PWM above {seen:.0f} Hz", verdict=Verdict.NOT_MEASURED, show_note=True)
        if key == "pulse_hz" and pulse.get("pulse_hz") is None and pulse.get("pulse_min_hz"):
            bound = float(pulse["pulse_min_hz"])
            return Measured(note=f"modulated faster than {bound:.0f} Hz: beyond what the sensor resolves",
                            lower_bound=bound)
        if key in ("pulse_hz", "duty_pct") and pulse.get("pulse_hz") is None:
            return Measured(note=f"no pulsing measured (modulation {pulse.get('modulation_pct', 0.0):.1f} %)",
                            verdict=Verdict.FAIL if key == "pulse_hz" else None)
        note = f"IEEE 1789: {pulse['flicker_region']}" if key == "modulation_pct" and pulse.get("flicker_region") \
            else "no pulsing measured"
        return Measured(pulse.get(key), pulse.get(u_key), note)
    return measure


def uniformity_value(key: str, u_key: str) -> Callable[[Evidence], Measured]:
    def measure(evidence: Evidence) -> Measured:
        uniformity = evidence.facts.uniformity
        if uniformity is None:
            return Measured(note="the sequence has no 'uniformity' phase")
        return Measured(uniformity.get(key), uniformity.get(u_key), "no uniformity statistics")
    return measure


UNRESOLVED = "lines closer than this sensor resolves"
ABSENT_SHARE = 0.10  # an undetected claimed line FAILs when at most this share of the light could be it


def _line_unmeasured(evidence: Evidence, name: str, rows: Seq[dict[str, Any]], claims: Claims | None = None,
                     what: str = "peak_nm") -> Measured | None:
    """Why a claimed line has no value in any row: merged with its neighbours, absent, or no measure phase.

    A merged line's ``what`` claim is judged through its group (:func:`rig.claims.line_groups.judge_member`): the
    group's light centre and total against what the claimed lines and shares imply."""
    if not rows:
        return Measured(note=NO_MEASURE)
    flags = [set(str(r.get("flags") or "").split(";")) for r in rows]
    if all(f"{name}_unresolved" in f for f in flags):
        judged = judge_member(rows, claims.lines, claims.irradiance_mw_cm2, name, what, UNRESOLVED) \
            if claims is not None else None
        if judged is not None:
            return Measured(judged.value, judged.u, judged.note, verdict=judged.verdict, show_note=True)
        return Measured(note=f"{UNRESOLVED} (fitted as one line with its neighbours)")
    if all(f"{name}_absent" in f for f in flags):
        limit = statistics.fmean(number(r.get(f"{name}_irradiance_u_mw_cm2")) or 0.0 for r in rows)
        total = statistics.fmean(number(r.get("irradiance_mw_cm2")) or 0.0 for r in rows)
        what = f"no {name.removeprefix('line_').replace('nm', ' nm')} line detected in {len(rows)} samples"
        if limit < ABSENT_SHARE * total:
            return Measured(note=f"{what} (at most {limit:.2g} mW/cm2)", verdict=Verdict.FAIL)
        return Measured(note=f"{what}, but up to {limit:.2g} mW/cm2 of it could hide under the other lines on this "
                             "sensor")
    return None


LINE_U_KEYS = {"peak_nm": "peak_u_nm", "irradiance_mw_cm2": "irradiance_u_mw_cm2"}


def line_value(name: str, key: str, claims: Claims | None = None) -> Callable[[Evidence], Measured]:
    def measure(evidence: Evidence) -> Measured:
        rows = evidence.lit("measure")
        if key == "peak_nm":
            measured = peak_with_interval(rows, name)
            if measured.value is not None:
                return measured
        value, u, _ = mean_with_u(rows, f"{name}_{key}", f"{name}_{LINE_U_KEYS[key]}")
        if value is not None:
            return Measured(value, u)
        return _line_unmeasured(evidence, name, rows, claims, key) \
            or Measured(note=f"{name}: no value in {len(rows)} samples")
    return measure


def line_share(name: str, claims: Claims | None = None) -> Callable[[Evidence], Measured]:
    def measure(evidence: Evidence) -> Measured:
        rows = evidence.lit("measure")
        value, u, _ = mean_with_u(shares(rows, name), "share", "u")
        if value is not None:
            return Measured(value, u)
        return _line_unmeasured(evidence, name, rows, claims, "share_pct") \
            or Measured(note=f"{name}: no value in {len(rows)} samples")
    return measure
