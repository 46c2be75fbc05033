"""Claims as a table of specs: what each claim is, how it is measured from a run, and how it is judged.

A :class:`ClaimSpec` names a claim (stable ``id``, display ``label``, ``unit``),
reads its acceptance :class:`Band` from the profile's :class:`~rig.profile.Claims`
(``None`` = not claimed), measures it from the run's :class:`Evidence`, and says
what part of the run it ``needs`` (a run that stopped early cannot judge a
session dose). Adding a claim over existing measurements is one entry in
:data:`CLAIM_SPECS`.

Pure Python over the sample rows (the dicts written to ``samples.csv``), so it
runs at the end of a run on the Pi and again in ``rig analyze`` on old data.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field, replace
from typing import Any

from rig.claims.dose import dose_j_cm2
from rig.claims.line_groups import judge_member, robust_with_u
from rig.claims.verdict import ClaimCheck, Verdict, judge
from rig.profile import Claims
from rig.results.schema import number, truthy

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
    auto_off_u_s: float | None = None  # half-width of the bracket around auto_off_t_s (a sure bound)
    auto_off_bracket_s: list[float] | None = None  # [start of the last lit reading, end of the first dark one]
    pulse: dict | None = None  # the pulse capture's analysis (rig.pulse.PulseResult.as_dict), if any
    uniformity: dict | None = None  # rig.claims.uniformity.summarize_positions, if the run had a uniformity phase
    skin_probe: str = "surface"  # the probe on the wrap's skin side (bench config), whose column is <name>_c
    phases_done: list[str] = field(default_factory=list)  # kinds of the phases that ran to their end
    guard_surface_max_c: float | None = None  # hottest skin-side reading of the between-sample guard checks

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> RunFacts:
        """From ``run.json``'s ``facts`` (unknown keys of other versions ignored)."""
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in (data or {}).items() if k in known})


@dataclass(frozen=True)
class Band:
    """A claim's acceptance band: the claimed value, the tolerance as text, and the limits (None = open)."""

    claimed: float | None
    tolerance: str
    low: float | None
    high: float | None


@dataclass(frozen=True)
class Measured:
    """A claim's measurement: value and expanded (k=2) uncertainty, or None with the reason in ``note``.

    ``verdict`` forces a verdict where the measurement itself decides (e.g. the claimed band is absent).
    """

    value: float | None = None
    u: float | None = None
    note: str = ""
    verdict: Verdict | None = None
    lower_bound: float | None = None  # only a bound is known: the true value is above this
    show_note: bool = False  # the note explains a judged value (e.g. which reading of the session)
    upper: tuple[float, float] | None = None  # the highest of a range (value, u): judged too, the worse one reported


@dataclass
class Evidence:
    """What the claims are measured from: the rows, the runner's facts, and how the run ended."""

    rows: Seq[dict[str, Any]]
    facts: RunFacts
    outcome: str = "COMPLETED"
    reason: str = ""

    @property
    def complete(self) -> bool:
        return self.outcome == "COMPLETED"

    def lit(self, kind: str) -> list[dict[str, Any]]:
        """Unsaturated rows of a phase kind with the wrap on, at the main sensor position."""
        return [r for r in self.rows if r.get("phase_kind", r.get("phase")) == kind and truthy(r.get("wrap_on"))
                and not truthy(r.get("saturated")) and not r.get("position")]

    def surface_temps_c(self) -> list[float]:
        column = f"{self.facts.skin_probe}_c"
        temps = [t for t in (number(r.get(column)) for r in self.rows) if t is not None]
        if self.facts.guard_surface_max_c is not None:
            temps.append(self.facts.guard_surface_max_c)
        return temps


Needs = str  # "any": judged on whatever ran; "measure": the measure phase must have finished;
# "session": the session must have ended (auto-off seen, or a run that finished)


@dataclass(frozen=True)
class ClaimSpec:
    """One claim: id, label, unit, where its band comes from, how it is measured, what it needs of the run."""

    id: str
    label: str
    unit: str
    band: Callable[[Claims], Band | None]
    measure: Callable[[Evidence], Measured]
    needs: Needs = "any"


# --- measurements -----------------------------------------------------------------------------------------------
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


NO_MEASURE = "no unsaturated sample in a 'measure' phase with the wrap on"


def _peak(band: str) -> Callable[[Evidence], Measured]:
    def measure(evidence: Evidence) -> Measured:
        rows = evidence.lit("measure")
        peak, u, _ = mean_with_u(rows, f"{band}_peak_nm", f"{band}_peak_u_nm")
        if peak is None and rows:  # measured, lit, and no such band: the claimed LEDs are not there
            return Measured(note=f"no {band.upper()} band detected in {len(rows)} samples", verdict=Verdict.FAIL)
        return Measured(peak, u, NO_MEASURE)
    return measure


def _irradiance(evidence: Evidence) -> Measured:
    value, u, _ = mean_with_u(evidence.lit("measure"), "irradiance_mw_cm2", "irradiance_u_mw_cm2")
    return Measured(value, u, NO_MEASURE)


# --- irradiance over the whole session -----------------------------------------------------------------------
SESSION_KINDS = ("warmup", "measure", "soak", "pulse")  # phases with the wrap on at the main position
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


def _irradiance_over_session(evidence: Evidence) -> Measured:
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


def _session_min(evidence: Evidence) -> Measured:
    stats = session_irradiance(evidence.rows, evidence.facts)
    if stats["irradiance_min_mw_cm2"] is None:
        return Measured(note="no unsaturated irradiance reading with the wrap on")
    note = f"lowest at {stats['irradiance_min_after_s']:.0f} s after switch-on"
    if stats["irradiance_droop_pct"] is not None:
        note += (f"; droop over the session {stats['irradiance_droop_pct']:.1f} ± "
                 f"{stats['irradiance_droop_u_pct']:.1f} %")
    return Measured(stats["irradiance_min_mw_cm2"], stats["irradiance_min_u_mw_cm2"], note, show_note=True)


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


def _dose(evidence: Evidence) -> Measured:
    dose, dose_u, note = session_dose(evidence.rows, evidence.facts)
    return Measured(dose, dose_u, note)


def _session(evidence: Evidence) -> Measured:
    facts = evidence.facts
    if facts.auto_off_t_s is not None and facts.switched_on_t_s is not None:
        u = facts.auto_off_u_s if facts.auto_off_u_s is not None else facts.soak_interval_s or 1.0
        return Measured(facts.auto_off_t_s - facts.switched_on_t_s, u)
    if facts.soak_limit_reached and facts.switched_on_t_s is not None and facts.soak_end_t_s is not None:
        return Measured(note=f"still on after {facts.soak_end_t_s - facts.switched_on_t_s:.0f} s: no auto-off",
                        verdict=Verdict.FAIL)
    return Measured(note="the sequence has no soak until auto-off long enough to see it")


def _surface(evidence: Evidence) -> Measured:
    temps = evidence.surface_temps_c()
    if not temps:
        return Measured(note="no valid surface temperature reading")
    return Measured(max(temps), PROBE_U_C)


def _pulse_value(key: str, u_key: str) -> Callable[[Evidence], Measured]:
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


def _uniformity_value(key: str, u_key: str) -> Callable[[Evidence], Measured]:
    def measure(evidence: Evidence) -> Measured:
        uniformity = evidence.facts.uniformity
        if uniformity is None:
            return Measured(note="the sequence has no 'uniformity' phase")
        return Measured(uniformity.get(key), uniformity.get(u_key), "no uniformity statistics")
    return measure


# --- bands ------------------------------------------------------------------------------------------------------
def pct_band(claimed: float | None, pct: float) -> Band | None:
    if claimed is None:
        return None
    return Band(claimed, f"±{pct:g} %", claimed * (1 - pct / 100), claimed * (1 + pct / 100))


def abs_band(claimed: float | None, tolerance: float, unit: str) -> Band | None:
    if claimed is None:
        return None
    return Band(claimed, f"±{tolerance:g} {unit}", claimed - tolerance, claimed + tolerance)


def over_session(band: Band | None) -> Band | None:
    return None if band is None else Band(band.claimed, f"{band.tolerance} over the whole session", band.low,
                                          band.high)


def at_most(limit: float | None) -> Band | None:
    return None if limit is None else Band(limit, "at most", None, limit)


def at_least(limit: float | None) -> Band | None:
    return None if limit is None else Band(limit, "at least", limit, None)


CLAIM_SPECS: tuple[ClaimSpec, ...] = (
    ClaimSpec("red_peak_nm", "red peak wavelength", "nm",
              lambda c: abs_band(c.red_peak_nm, c.red_peak_tolerance_nm, "nm"), _peak("red"), "measure"),
    ClaimSpec("nir_peak_nm", "NIR peak wavelength", "nm",
              lambda c: abs_band(c.nir_peak_nm, c.nir_peak_tolerance_nm, "nm"), _peak("nir"), "measure"),
    ClaimSpec("irradiance_mw_cm2", "irradiance at contact", "mW/cm2",
              lambda c: pct_band(c.irradiance_mw_cm2, c.irradiance_tolerance_pct)
              if c.irradiance_over == "measure" else None, _irradiance, "measure"),
    ClaimSpec("irradiance_mw_cm2", "irradiance at contact", "mW/cm2",  # irradiance_over = "session"
              lambda c: over_session(pct_band(c.irradiance_mw_cm2, c.irradiance_tolerance_pct))
              if c.irradiance_over == "session" else None, _irradiance_over_session, "session"),
    ClaimSpec("irradiance_session_min_mw_cm2", "lowest irradiance over the session", "mW/cm2",
              lambda c: at_least(c.irradiance_session_min_mw_cm2), _session_min, "session"),
    ClaimSpec("dose_j_cm2", "dose per session", "J/cm2",
              lambda c: pct_band(c.dose_j_cm2, c.dose_tolerance_pct), _dose, "session"),
    ClaimSpec("session_s", "session length / auto-off", "s",
              lambda c: abs_band(c.session_s, c.session_tolerance_s, "s"), _session, "session"),
    ClaimSpec("surface_max_c", "max surface temperature", "C", lambda c: at_most(c.surface_limit_c), _surface),
    ClaimSpec("pulse_hz", "pulse frequency", "Hz",
              lambda c: pct_band(c.pulse_hz, c.pulse_tolerance_pct), _pulse_value("pulse_hz", "pulse_u_hz")),
    ClaimSpec("duty_pct", "duty cycle", "%", lambda c: abs_band(c.duty_pct, c.duty_tolerance_pct, "points"),
              _pulse_value("duty_pct", "duty_u_pct")),
    ClaimSpec("flicker_pct", "flicker (percent, IEEE 1789)", "%", lambda c: at_most(c.max_flicker_pct),
              _pulse_value("modulation_pct", "modulation_u_pct")),
    ClaimSpec("uniformity_ratio", "uniformity (min/max irradiance)", "ratio",
              lambda c: at_least(c.min_uniformity_ratio), _uniformity_value("min_max_ratio", "min_max_ratio_u")),
    ClaimSpec("uniformity_cv_pct", "uniformity (CV of irradiance)", "%", lambda c: at_most(c.max_cv_pct),
              _uniformity_value("cv_pct", "cv_u_pct")),
)
LABELS = {spec.id: spec.label for spec in CLAIM_SPECS}


# --- claimed lines ----------------------------------------------------------------------------------------------
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


def _line_value(name: str, key: str, claims: Claims | None = None) -> Callable[[Evidence], Measured]:
    def measure(evidence: Evidence) -> Measured:
        rows = evidence.lit("measure")
        value, u, _ = mean_with_u(rows, f"{name}_{key}", f"{name}_{LINE_U_KEYS[key]}")
        if value is not None:
            return Measured(value, u)
        return _line_unmeasured(evidence, name, rows, claims, key) \
            or Measured(note=f"{name}: no value in {len(rows)} samples")
    return measure


def _line_share(name: str, claims: Claims | None = None) -> Callable[[Evidence], Measured]:
    def measure(evidence: Evidence) -> Measured:
        rows = evidence.lit("measure")
        shares = []
        for row in rows:
            line, u = number(row.get(f"{name}_irradiance_mw_cm2")), number(row.get(f"{name}_irradiance_u_mw_cm2"))
            total = number(row.get("irradiance_mw_cm2"))
            if line is not None and total:
                shares.append({"share": 100.0 * line / total, "u": 100.0 * (u or 0.0) / total})
        value, u, _ = mean_with_u(shares, "share", "u")
        if value is not None:
            return Measured(value, u)
        return _line_unmeasured(evidence, name, rows, claims, "share_pct") \
            or Measured(note=f"{name}: no value in {len(rows)} samples")
    return measure


def line_claim_specs(claims: Claims) -> tuple[ClaimSpec, ...]:
    """Claim specs for the mode's claimed lines: peak, and irradiance / share when claimed (ids
    ``line_660nm_peak_nm``, ``line_660nm_irradiance_mw_cm2``, ``line_660nm_share_pct``)."""
    specs: list[ClaimSpec] = []
    for n, line in enumerate(claims.lines):
        name, nm = line.name, f"{line.peak_nm:g} nm line"

        def pick(c: Claims, n: int = n):
            return c.lines[n]
        specs.append(ClaimSpec(f"{name}_peak_nm", f"{nm} peak", "nm",
                               lambda c, p=pick: abs_band(p(c).peak_nm, p(c).tolerance, "nm"),
                               _line_value(name, "peak_nm", claims), "measure"))
        if line.irradiance_mw_cm2 is not None:
            specs.append(ClaimSpec(f"{name}_irradiance_mw_cm2", f"{nm} irradiance", "mW/cm2",
                                   lambda c, p=pick: pct_band(p(c).irradiance_mw_cm2, p(c).irradiance_tolerance_pct),
                                   _line_value(name, "irradiance_mw_cm2", claims), "measure"))
        if line.share_pct is not None:
            specs.append(ClaimSpec(f"{name}_share_pct", f"{nm} share of irradiance", "%",
                                   lambda c, p=pick: abs_band(p(c).share_pct, p(c).share_tolerance_pct, "points"),
                                   _line_share(name, claims), "measure"))
    return tuple(specs)


def _cut_short(spec: ClaimSpec, evidence: Evidence, measured: Measured, band: Band) -> str | None:
    """Why a run that did not finish cannot judge this claim (None: it can)."""
    if evidence.complete:
        return None
    why = f"run {evidence.outcome} ({evidence.reason})" if evidence.reason else f"run {evidence.outcome}"
    if spec.needs == "session" and evidence.facts.auto_off_t_s is None:
        return f"{why} before the session ended"
    if spec.needs == "measure" and "measure" not in evidence.facts.phases_done:
        return f"{why} before the measure phase finished"
    if spec.needs == "any" and band.low is None and measured.value is not None and band.high is not None \
            and measured.value <= band.high:
        return f"{why}: {measured.value:.4g} {spec.unit} so far, the rest of the session was not seen"
    return None


VERDICT_RANK = {Verdict.PASS: 0, Verdict.MARGINAL: 1, Verdict.FAIL: 2}


def _worse_end(band: Band, measured: Measured) -> Measured:
    """Of a range's lowest (``value``) and highest (``upper``) ends, the one whose verdict is worse (ties: lowest)."""
    high, high_u = measured.upper or (None, None)
    low_verdict = judge(band.low, band.high, measured.value, measured.u)
    high_verdict = judge(band.low, band.high, high, high_u)
    if VERDICT_RANK.get(high_verdict, 0) > VERDICT_RANK.get(low_verdict, 0):
        return replace(measured, value=high, u=high_u, upper=None)
    return replace(measured, upper=None)


def judge_claim(spec: ClaimSpec, band: Band, evidence: Evidence) -> ClaimCheck:
    """One claim's verdict: forced by the measurement, NOT MEASURED when the run was cut short, else judged."""
    measured = spec.measure(evidence)
    if measured.value is None and measured.lower_bound is not None:
        below = band.high is not None and band.high < measured.lower_bound
        return ClaimCheck(spec.id, spec.label, spec.unit, band.claimed, band.tolerance, band.low, band.high, None,
                          None, Verdict.FAIL if below else Verdict.NOT_MEASURED, f"> {measured.lower_bound:.0f} "
                          f"{spec.unit}: {measured.note}")
    cut = _cut_short(spec, evidence, measured, band)
    if cut is not None:
        return ClaimCheck(spec.id, spec.label, spec.unit, band.claimed, band.tolerance, band.low, band.high,
                          measured.value, measured.u, Verdict.NOT_MEASURED, cut)
    if measured.upper is not None and measured.verdict is None:
        measured = _worse_end(band, measured)
    verdict = measured.verdict or judge(band.low, band.high, measured.value, measured.u)
    note = measured.note if (verdict is Verdict.NOT_MEASURED or measured.verdict or measured.show_note
                             or spec.id in ("dose_j_cm2", "flicker_pct")) else ""
    value = None if measured.verdict is Verdict.FAIL and measured.value is None else measured.value
    return ClaimCheck(spec.id, spec.label, spec.unit, band.claimed, band.tolerance, band.low, band.high, value,
                      measured.u if value is not None else None, verdict, note)


def check_claims(claims: Claims, rows: Seq[dict[str, Any]], facts: RunFacts, outcome: str = "COMPLETED",
                 reason: str = "") -> list[ClaimCheck]:
    """One check per claim of the mode under test (the surface temperature limit is always claimed)."""
    evidence = Evidence(rows, facts, outcome, reason)
    checks = []
    for spec in (*CLAIM_SPECS, *line_claim_specs(claims)):
        band = spec.band(claims)
        if band is not None:
            checks.append(judge_claim(spec, band, evidence))
    return checks


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
