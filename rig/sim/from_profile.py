"""A simulated wrap that does what a profile claims (for ``rig run --sim`` without ``--sim-wrap``).

One string per claimed band (the first mode claiming it sets the peak), or one
string per claimed line (``[[modes.claims.lines]]``: its peak, claimed width or
20 nm red / 30 nm NIR, and its claimed irradiance or share of the mode's), one
sim mode per profile mode in order of button presses, each mode's intensity
set so that the *warm* output equals the claimed irradiance, and the auto-off
timer set to the claimed session length.
"""

from __future__ import annotations

from rig.profile import WrapProfile
from rig.sim.wrap import LedString, WrapMode, WrapSpec

STRING_MW_CM2 = 25.0  # each string's full irradiance at contact, before a mode's intensity
DROOP = 0.08


def _line_strings(profile: WrapProfile) -> dict[str, LedString]:
    """One string per claimed line (first claim of a peak wins), at its claimed share of the mode's output."""
    strings: dict[str, LedString] = {}
    for mode in profile.modes:
        lines = mode.claims.lines
        total = mode.claims.irradiance_mw_cm2
        for line in lines:
            if line.name in strings:
                continue
            if line.irradiance_mw_cm2 is not None:
                level = line.irradiance_mw_cm2
            elif line.share_pct is not None and total is not None:
                level = total * line.share_pct / 100.0
            else:
                claimed = sum(x.share_pct or 0.0 for x in lines)
                rest = [x for x in lines if x.share_pct is None and x.irradiance_mw_cm2 is None]
                level = (total or STRING_MW_CM2 * len(lines)) * max(0.0, 100.0 - claimed) / 100.0 / max(1, len(rest))
            width = line.fwhm_nm or (20.0 if line.peak_nm < 740 else 30.0)
            strings[line.name] = LedString(line.name, float(line.peak_nm), width, max(level, 0.1) / (1 - DROOP))
    return strings


def _wrap_from_lines(profile: WrapProfile) -> WrapSpec:
    strings = _line_strings(profile)
    modes = [WrapMode(mode.name, [line.name for line in mode.claims.lines] or list(strings),
                      pulse_hz=mode.claims.pulse_hz or 0.0, duty=(mode.claims.duty_pct or 100.0) / 100.0)
             for mode in sorted(profile.modes, key=lambda m: m.presses)]
    session = next((m.claims.session_s for m in profile.modes if m.claims.session_s), None) or 900.0
    return WrapSpec(name=f"simulated {profile.label} (as claimed)", strings=list(strings.values()), modes=modes,
                    start_mode=0, auto_off_s=session, droop_fraction=DROOP, surface_rise_c=10.0).validate()


def wrap_spec_from_profile(profile: WrapProfile) -> WrapSpec:
    """Build an honest simulated wrap from ``profile``'s claims."""
    if any(mode.claims.lines for mode in profile.modes):
        return _wrap_from_lines(profile)
    peaks: dict[str, float] = {}
    for mode in profile.modes:
        if mode.claims.red_peak_nm is not None:
            peaks.setdefault("red", mode.claims.red_peak_nm)
        if mode.claims.nir_peak_nm is not None:
            peaks.setdefault("nir", mode.claims.nir_peak_nm)
    if not peaks:
        peaks["red"] = 660.0
    strings = [LedString(band, peak, 20.0 if band == "red" else 30.0, STRING_MW_CM2) for band, peak in peaks.items()]
    ordered = sorted(profile.modes, key=lambda m: m.presses)
    modes: list[WrapMode] = []
    for mode in ordered:
        claims = mode.claims
        bands = [b for b in ("red", "nir") if getattr(claims, f"{b}_peak_nm") is not None] or list(peaks)
        intensity = 1.0
        if claims.irradiance_mw_cm2 is not None:
            intensity = claims.irradiance_mw_cm2 / (STRING_MW_CM2 * len(bands) * (1 - DROOP))
        duty = (claims.duty_pct or 100.0) / 100.0
        modes.append(WrapMode(mode.name, bands, pulse_hz=claims.pulse_hz or 0.0, duty=duty,
                              intensity=min(2.0, intensity)))
    session = next((m.claims.session_s for m in ordered if m.claims.session_s), None) or 900.0
    return WrapSpec(name=f"simulated {profile.label} (as claimed)", strings=strings, modes=modes,
                    start_mode=0, auto_off_s=session, droop_fraction=DROOP, surface_rise_c=10.0).validate()
