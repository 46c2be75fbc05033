"""The claims as a table of specs: what each claim is (id, label, unit, short name for tables, trend, whether it
depends on the calibration), where its band comes from and how it is measured.

A :class:`ClaimSpec` names a claim (stable ``id``, display ``label``, ``unit``), reads its acceptance
:class:`~rig.claims.bands.Band` from the profile's :class:`~rig.profile.Claims` (``None`` = not claimed), measures it
from the run's :class:`~rig.claims.evidence.Evidence` (:mod:`rig.claims.measures`), and says what part of the run it
``needs`` (a run that stopped early cannot judge a session dose). Adding a claim over existing measurements is one
entry in :data:`CLAIM_SPECS`; judging is :mod:`rig.claims.judging`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rig.claims import measures as m
from rig.claims.bands import Band, abs_band, at_least, at_most, over_session, pct_band
from rig.claims.evidence import Evidence, Measured
from rig.profile import Claims

Needs = str  # "any": judged on whatever ran; "measure": the measure phase must have finished;
# "session": the session must have ended (auto-off seen, or a run that finished)


@dataclass(frozen=True)
class ClaimSpec:
    """One claim: id, label, unit, where its band comes from, how it is measured, what it needs of the run; and how
    it shows: ``short`` and ``short_unit`` name its column in compare tables, ``trend`` puts it in ``rig compare
    --trend`` by default, ``calibration_dependent`` marks it (*) in a report of an uncalibrated run; ``note`` shows
    the measurement's note beside every verdict (how a dose was integrated, the IEEE 1789 region)."""

    id: str
    label: str
    unit: str
    band: Callable[[Claims], Band | None]
    measure: Callable[[Evidence], Measured]
    needs: Needs = "any"
    short: str = ""
    short_unit: str = ""
    trend: bool = False
    calibration_dependent: bool = False
    note: bool = False


CLAIM_SPECS: tuple[ClaimSpec, ...] = (
    ClaimSpec("red_peak_nm", "red peak wavelength", "nm",
              lambda c: abs_band(c.red_peak_nm, c.red_peak_tolerance_nm, "nm"), m.peak("red"), "measure",
              "red peak", "nm", trend=True),
    ClaimSpec("nir_peak_nm", "NIR peak wavelength", "nm",
              lambda c: abs_band(c.nir_peak_nm, c.nir_peak_tolerance_nm, "nm"), m.peak("nir"), "measure",
              "NIR peak", "nm", trend=True),
    ClaimSpec("irradiance_mw_cm2", "irradiance at contact", "mW/cm2",
              lambda c: pct_band(c.irradiance_mw_cm2, c.irradiance_tolerance_pct)
              if c.irradiance_over == "measure" else None, m.irradiance, "measure",
              "irradiance", "mW/cm²", trend=True, calibration_dependent=True),
    ClaimSpec("irradiance_mw_cm2", "irradiance at contact", "mW/cm2",  # irradiance_over = "session"
              lambda c: over_session(pct_band(c.irradiance_mw_cm2, c.irradiance_tolerance_pct))
              if c.irradiance_over == "session" else None, m.irradiance_over_session, "session",
              "irradiance", "mW/cm²", trend=True, calibration_dependent=True),
    ClaimSpec("irradiance_session_min_mw_cm2", "lowest irradiance over the session", "mW/cm2",
              lambda c: at_least(c.irradiance_session_min_mw_cm2), m.session_min, "session",
              "session min", "mW/cm²"),
    ClaimSpec("dose_j_cm2", "dose per session", "J/cm2",
              lambda c: pct_band(c.dose_j_cm2, c.dose_tolerance_pct), m.dose, "session",
              "dose", "J/cm²", calibration_dependent=True, note=True),
    ClaimSpec("session_s", "session length / auto-off", "s",
              lambda c: abs_band(c.session_s, c.session_tolerance_s, "s"), m.session_length, "session",
              "session", "s"),
    ClaimSpec("surface_max_c", "max surface temperature", "C", lambda c: at_most(c.surface_limit_c), m.surface_max,
              short="surface max", short_unit="°C"),
    ClaimSpec("pulse_hz", "pulse frequency", "Hz",
              lambda c: pct_band(c.pulse_hz, c.pulse_tolerance_pct), m.pulse_value("pulse_hz", "pulse_u_hz"),
              short="pulse", short_unit="Hz"),
    ClaimSpec("duty_pct", "duty cycle", "%", lambda c: abs_band(c.duty_pct, c.duty_tolerance_pct, "points"),
              m.pulse_value("duty_pct", "duty_u_pct"), short="duty", short_unit="%"),
    ClaimSpec("flicker_pct", "flicker (percent, IEEE 1789)", "%", lambda c: at_most(c.max_flicker_pct),
              m.pulse_value("modulation_pct", "modulation_u_pct"), short="flicker", short_unit="%",
              note=True),
    ClaimSpec("uniformity_ratio", "uniformity (min/max irradiance)", "ratio",
              lambda c: at_least(c.min_uniformity_ratio), m.uniformity_value("min_max_ratio", "min_max_ratio_u"),
              short="min/max", short_unit="ratio"),
    ClaimSpec("uniformity_cv_pct", "uniformity (CV of irradiance)", "%", lambda c: at_most(c.max_cv_pct),
              m.uniformity_value("cv_pct", "cv_u_pct"), short="CV", short_unit="%"),
)

# what the table declares, looked up by id, in the table's order (specs sharing an id declare the same)
SHORT_NAMES: dict[str, tuple[str, str]] = {s.id: (s.short, s.short_unit) for s in CLAIM_SPECS}
LABEL_TO_ID: dict[str, str] = {s.label: s.id for s in CLAIM_SPECS}
TREND_CLAIMS: list[str] = list(dict.fromkeys(s.id for s in CLAIM_SPECS if s.trend))
CALIBRATION_DEPENDENT: frozenset[str] = frozenset(s.id for s in CLAIM_SPECS if s.calibration_dependent)


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
                               m.line_value(name, "peak_nm", claims), "measure"))
        if line.irradiance_mw_cm2 is not None:
            specs.append(ClaimSpec(f"{name}_irradiance_mw_cm2", f"{nm} irradiance", "mW/cm2",
                                   lambda c, p=pick: pct_band(p(c).irradiance_mw_cm2, p(c).irradiance_tolerance_pct),
                                   m.line_value(name, "irradiance_mw_cm2", claims), "measure"))
        if line.share_pct is not None:
            specs.append(ClaimSpec(f"{name}_share_pct", f"{nm} share of irradiance", "%",
                                   lambda c, p=pick: abs_band(p(c).share_pct, p(c).share_tolerance_pct, "points"),
                                   m.line_share(name, claims), "measure"))
    return tuple(specs)
