"""A simulated wrap that does what a profile claims (for ``rig run --sim`` without ``--sim-wrap``).

One string per claimed band (the first mode claiming it sets the peak), one
sim mode per profile mode in order of button presses, each mode's intensity
set so that the *warm* output equals the claimed irradiance, and the auto-off
timer set to the claimed session length.
"""

from __future__ import annotations

from rig.profile import WrapProfile
from rig.sim.wrap import LedString, WrapMode, WrapSpec

STRING_MW_CM2 = 25.0  # each string's full irradiance at contact, before a mode's intensity
DROOP = 0.08


def wrap_spec_from_profile(profile: WrapProfile) -> WrapSpec:
    """Build an honest simulated wrap from ``profile``'s claims."""
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
